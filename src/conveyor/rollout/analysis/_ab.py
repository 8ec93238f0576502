"""The A/B report: per-variant metrics with confidence intervals and their difference.

Unlike the canary's sequential tests, an A/B test is read at a horizon chosen in advance,
so this report uses fixed-sample intervals: Wilson score intervals for proportions
(traffic share, error rate, accuracy), Newcombe's hybrid score interval and the pooled
two-proportion z-test for a difference of proportions, and normal (Welch) intervals for
mean errors of regressors. Reading it repeatedly while the test runs inflates its false
positive rate; decide on the horizon (requests, labels) before starting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from conveyor.rollout.analysis._errors import AnalysisError
from conveyor.rollout.analysis._metrics import METRICS, check_metric, metric_values
from conveyor.rollout.analysis._stats import VariantStats

#: Which role is the baseline when a pair of these roles is present.
_PAIRS = (("a", "b"), ("champion", "challenger"), ("blue", "green"))


@dataclass(frozen=True)
class VariantSummary:
    """One variant of an A/B test.

    Attributes:
        role: The variant's role.
        requests: Requests it served.
        share: Its share of the requests of all variants reported.
        share_ci: Wilson interval of that share.
        expected_share: The configured share (from ``weights``), if given.
        share_ok: Whether ``expected_share`` lies inside ``share_ci`` (``None`` if unknown).
        error_rate: Failed requests / requests.
        error_rate_ci: Wilson interval of the error rate.
        labelled: Predictions with a label.
        metric: The metric on the labelled predictions (``None`` without labels).
        metric_ci: Its confidence interval (``None`` without labels).
    """

    role: str
    requests: int
    share: float
    share_ci: tuple[float, float]
    expected_share: float | None
    share_ok: bool | None
    error_rate: float
    error_rate_ci: tuple[float, float]
    labelled: int
    metric: float | None
    metric_ci: tuple[float, float] | None


@dataclass(frozen=True)
class DifferenceSummary:
    """``treatment metric - baseline metric`` with its interval and test.

    Attributes:
        baseline: Role of the reference variant.
        treatment: Role of the variant compared with it.
        estimate: The observed difference.
        ci: Its confidence interval.
        p_value: Two-sided p-value of "no difference".
        significant: ``p_value < 1 - confidence``.
    """

    baseline: str
    treatment: str
    estimate: float
    ci: tuple[float, float]
    p_value: float
    significant: bool


@dataclass(frozen=True)
class ABReport:
    """What :func:`ab_report` returns.

    Attributes:
        metric: The metric compared.
        confidence: Confidence level of every interval.
        variants: Per-role summaries.
        difference: The comparison of the pair, or ``None`` when it lacks labels.
    """

    metric: str
    confidence: float
    variants: dict[str, VariantSummary]
    difference: DifferenceSummary | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return asdict(self)


def ab_report(
    stats_by_role: Mapping[str, VariantStats],
    *,
    metric: str = "accuracy",
    confidence: float = 0.95,
    weights: Mapping[str, float] | None = None,
) -> ABReport:
    """Summarise an A/B test: metrics, intervals, difference, significance, split.

    Args:
        stats_by_role: Traffic per variant role (at least two roles).
        metric: A key of :data:`~conveyor.rollout.analysis.METRICS`.
        confidence: Level of every interval (the test's significance is ``1 - confidence``).
        weights: The configured traffic weights by role, to check the observed split.

    Returns:
        The report. The baseline/treatment pair is ``a``/``b``, ``champion``/``challenger``
        or ``blue``/``green`` when present, else the first two roles in sorted order.

    Raises:
        AnalysisError: fewer than two roles, a bad confidence level, or an unknown metric.

    Example:
        >>> report = ab_report({"a": stats_a, "b": stats_b})  # doctest: +SKIP
        >>> report.difference.significant  # doctest: +SKIP
        False
    """
    check_metric(metric)
    if len(stats_by_role) < 2 or not 0.5 <= confidence < 1:
        raise AnalysisError(
            f"An A/B report needs two variants and a confidence in [0.5, 1); got roles "
            f"{sorted(stats_by_role)} and confidence {confidence}.",
            hint="Pass the stats of both variants, e.g. from stats_from_log.",
            roles=sorted(stats_by_role),
        )
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    total = sum(stats.requests for stats in stats_by_role.values())
    live_weight = sum(weights.get(role, 0.0) for role in stats_by_role) if weights else 0.0
    variants: dict[str, VariantSummary] = {}
    scores: dict[str, np.ndarray[Any, Any]] = {}
    for role, stats in stats_by_role.items():
        scores[role] = metric_values(stats, metric)
        expected = weights.get(role, 0.0) / live_weight if weights and live_weight else None
        share_ci = wilson(stats.requests, total, z)
        metric_value, metric_ci = _metric_summary(scores[role], metric, z)
        variants[role] = VariantSummary(
            role=role,
            requests=stats.requests,
            share=stats.requests / total if total else 0.0,
            share_ci=share_ci,
            expected_share=expected,
            share_ok=None if expected is None else share_ci[0] <= expected <= share_ci[1],
            error_rate=stats.error_rate,
            error_rate_ci=wilson(stats.errors, stats.requests, z),
            labelled=len(scores[role]),
            metric=metric_value,
            metric_ci=metric_ci,
        )
    baseline, treatment = _pair(list(stats_by_role))
    difference = _difference(
        baseline,
        treatment,
        base=scores[baseline],
        treat=scores[treatment],
        metric=metric,
        confidence=confidence,
    )
    return ABReport(metric, confidence, variants, difference)


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (``(0, 1)`` when ``n`` is 0).

    Example:
        >>> tuple(round(x, 3) for x in wilson(50, 100, 1.96))
        (0.404, 0.596)
    """
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - spread), min(1.0, centre + spread))


def _metric_summary(
    values: np.ndarray[Any, Any], metric: str, z: float
) -> tuple[float | None, tuple[float, float] | None]:
    if len(values) == 0:
        return None, None
    mean = float(values.mean())
    if METRICS[metric][1]:
        return mean, wilson(int(values.sum()), len(values), z)
    se = float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else math.inf
    return mean, (mean - z * se, mean + z * se)


def _difference(
    baseline: str,
    treatment: str,
    *,
    base: np.ndarray[Any, Any],
    treat: np.ndarray[Any, Any],
    metric: str,
    confidence: float,
) -> DifferenceSummary | None:
    if len(base) < 2 or len(treat) < 2:
        return None
    normal = NormalDist()
    z = normal.inv_cdf(0.5 + confidence / 2)
    p_b, p_t = float(base.mean()), float(treat.mean())
    estimate = p_t - p_b
    if METRICS[metric][1]:
        # Newcombe's hybrid score interval (method 10) from the two Wilson intervals.
        lo_b, hi_b = wilson(int(base.sum()), len(base), z)
        lo_t, hi_t = wilson(int(treat.sum()), len(treat), z)
        ci = (
            estimate - math.sqrt((p_t - lo_t) ** 2 + (hi_b - p_b) ** 2),
            estimate + math.sqrt((hi_t - p_t) ** 2 + (p_b - lo_b) ** 2),
        )
        pooled = (base.sum() + treat.sum()) / (len(base) + len(treat))
        se = math.sqrt(pooled * (1 - pooled) * (1 / len(base) + 1 / len(treat)))
    else:
        se = math.sqrt(base.var(ddof=1) / len(base) + treat.var(ddof=1) / len(treat))
        ci = (estimate - z * se, estimate + z * se)
    # Without any variance the outcomes are constant: identical, or certainly different.
    no_spread = 1.0 if estimate == 0 else 0.0
    p_value = 2 * (1 - normal.cdf(abs(estimate) / se)) if se > 0 else no_spread
    return DifferenceSummary(
        baseline, treatment, estimate, ci, p_value, significant=p_value < 1 - confidence
    )


def _pair(roles: list[str]) -> tuple[str, str]:
    for baseline, treatment in _PAIRS:
        if baseline in roles and treatment in roles:
            return baseline, treatment
    first, second = sorted(roles)[:2]
    return first, second
