"""Rollout analysis: is the challenger as good as the champion, with stated error bounds?

This package owns the statistics of deployments. :func:`analyse` runs the sequential
tests of a canary (always-valid confidence sequences on the error rate and, once labels
arrive, the model metric; ``alpha`` bounds false rollbacks and ``beta`` false promotions)
plus a latency guard rail, and compares live prediction divergence with the divergence the
gate expected (:func:`divergence_guard`; beyond it the verdict is ``hold``, never
``fail``); :func:`ab_report` gives the fixed-horizon summary of an A/B test (per-variant
metrics with confidence intervals, the difference, its p-value, and the traffic split
against its binomial interval);
:func:`stats_from_log` builds the per-variant :class:`VariantStats` from the prediction
log. Everything but :func:`stats_from_log` is pure and fast enough to run thousands of
times in a benchmark.
"""

from __future__ import annotations

from conveyor.rollout.analysis._ab import ABReport, DifferenceSummary, VariantSummary, ab_report
from conveyor.rollout.analysis._analyse import analyse
from conveyor.rollout.analysis._divergence import divergence_guard, expected_bound
from conveyor.rollout.analysis._errors import AnalysisError
from conveyor.rollout.analysis._guards import GUARD_MIN_SAMPLES, jensen_shannon
from conveyor.rollout.analysis._log import stats_from_log
from conveyor.rollout.analysis._metrics import METRICS, metric_values
from conveyor.rollout.analysis._rehearse import Arm, RehearsalResult, rehearse_canary
from conveyor.rollout.analysis._sequential import half_width
from conveyor.rollout.analysis._stats import AnalysisResult, VariantStats, Verdict

__all__ = [
    "ABReport",
    "AnalysisError",
    "AnalysisResult",
    "Arm",
    "DifferenceSummary",
    "GUARD_MIN_SAMPLES",
    "METRICS",
    "RehearsalResult",
    "VariantStats",
    "VariantSummary",
    "Verdict",
    "ab_report",
    "analyse",
    "divergence_guard",
    "expected_bound",
    "half_width",
    "jensen_shannon",
    "metric_values",
    "rehearse_canary",
    "stats_from_log",
]
