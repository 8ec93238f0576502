"""Cost: what training and serving a model version used, priced with the ``cost:`` section.

Runs record their wall time, CPU seconds and peak memory (``runs.peak_rss_mb``); prediction
servers record theirs per process (:class:`~conveyor.predictions.ServingUsage`).
:func:`model_cost` adds up the run tree that produced a version (its pipeline run, every
step and tuning trial; cached steps cost nothing and say what they saved) and the serving
records of each environment, prices them (CPU hours times ``cpu_hour``, GB-hours times
``gb_hour``), and says what spot capacity (``spot_discount``) and scale-to-zero (replicas
billed only while busy) would save. :func:`cost_report` does it for every version active in
an environment, or every recent one. The formulas are in ``docs/cost.md``.
"""

from __future__ import annotations

from conveyor.cost._card import amount, card_with_cost, cost_section, money
from conveyor.cost._errors import CostError, InvalidSinceError
from conveyor.cost._model import (
    ModelCost,
    RunUsage,
    ServingCost,
    TrainingCost,
    cost_report,
    model_cost,
)
from conveyor.cost._pricing import (
    ServingBill,
    cpu_hours,
    gb_hours,
    per_thousand,
    price,
    serving_bill,
    spot_saving,
)
from conveyor.cost._since import parse_since

__all__ = [
    "CostError",
    "InvalidSinceError",
    "ModelCost",
    "RunUsage",
    "ServingBill",
    "ServingCost",
    "TrainingCost",
    "amount",
    "card_with_cost",
    "cost_report",
    "cost_section",
    "cpu_hours",
    "gb_hours",
    "model_cost",
    "money",
    "parse_since",
    "per_thousand",
    "price",
    "serving_bill",
    "spot_saving",
]
