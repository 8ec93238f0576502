"""The built-in model checks: training curves, holdout metrics, champion comparison, behaviour.

Each check is a :class:`~conveyor.checks.Check` registered by name in
:mod:`conveyor.checks` (``min_metric`` -> :class:`MinMetricCheck`). The statistics live in
pure functions over arrays (paired bootstrap, calibration, group rates), so every measure is
testable against a known answer; the check classes only fetch inputs from the
:class:`~conveyor.checks.CheckContext` (which predicts once per model per suite) and turn the
measurement into a result. Bad inputs (an empty holdout, a missing slice or sensitive column,
a NaN metric, a champion whose artifact fails its integrity check) become failed or error
results that say why, never crashes. :func:`divergence_profile` is the prediction divergence
a canary watches; the champion comparison records it on the holdout as the expectation.
"""

from __future__ import annotations

from conveyor.checks.model._behaviour_checks import (
    ArtifactSizeCheck,
    InvarianceCheck,
    LatencyCheck,
    RobustnessCheck,
    SaveLoadParityCheck,
)
from conveyor.checks.model._divergence import (
    DivergenceProfile,
    divergence_profile,
    jensen_shannon,
)
from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._feature_skew import FeatureSkewCheck
from conveyor.checks.model._holdout_checks import (
    CalibrationCheck,
    ChampionComparisonCheck,
    FairnessCheck,
    SlicesCheck,
)
from conveyor.checks.model._metrics import METRICS, Metric, get_metric
from conveyor.checks.model._stats import (
    Calibration,
    GroupRates,
    PairedBootstrap,
    calibration,
    group_rates,
    paired_bootstrap,
)
from conveyor.checks.model._training_checks import (
    LossDecreasesCheck,
    MinMetricCheck,
    OverfittingCheck,
)

__all__ = [
    "ArtifactSizeCheck",
    "Calibration",
    "CalibrationCheck",
    "ChampionComparisonCheck",
    "DivergenceProfile",
    "FairnessCheck",
    "FeatureSkewCheck",
    "GroupRates",
    "InvarianceCheck",
    "LatencyCheck",
    "LossDecreasesCheck",
    "METRICS",
    "Metric",
    "MinMetricCheck",
    "ModelCheckInputError",
    "OverfittingCheck",
    "PairedBootstrap",
    "RobustnessCheck",
    "SaveLoadParityCheck",
    "SlicesCheck",
    "calibration",
    "divergence_profile",
    "get_metric",
    "group_rates",
    "jensen_shannon",
    "paired_bootstrap",
]
