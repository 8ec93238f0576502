"""The statistics behind the model checks: paired bootstrap, calibration, group rates.

Everything here is a pure function of arrays, so each statistic can be tested against a
hand-computed answer independently of stores and models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.checks.model._metrics import Array, Metric, compute


@dataclass(frozen=True)
class PairedBootstrap:
    """Candidate-minus-champion improvement of a metric with a percentile interval.

    ``delta`` is oriented so that positive means "candidate better": for a metric where lower
    is better it is champion minus candidate.

    Attributes:
        candidate: The candidate's metric on the whole holdout.
        champion: The champion's metric on the whole holdout.
        delta: The point estimate of the improvement.
        low: Lower bound of the percentile interval.
        high: Upper bound of the percentile interval.
        level: The confidence level (0.95 means a 95% interval).
        n_boot: Resamples requested.
        n_valid: Resamples where both metrics were defined (ROC AUC needs both classes).
    """

    candidate: float
    champion: float
    delta: float
    low: float
    high: float
    level: float
    n_boot: int
    n_valid: int


def paired_bootstrap(
    metric: Metric,
    y: Array,
    candidate: tuple[Array, Array | None],
    champion: tuple[Array, Array | None],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedBootstrap:
    """Bootstrap the metric difference, resampling the SAME holdout rows for both models.

    Pairing removes the between-sample variance both models share, so the interval reflects
    only how differently the two models handle the same rows.

    Args:
        metric: The metric to compare.
        y: True labels of the holdout.
        candidate: The candidate's ``(predictions, scores or None)``.
        champion: The champion's ``(predictions, scores or None)``.
        n_boot: Number of resamples.
        level: Confidence level of the percentile interval.
        seed: Seed of the resampling (the same seed gives the same interval).

    Returns:
        The point estimates and the interval (``nan`` bounds when no resample was valid).
    """
    sign = 1.0 if metric.higher_is_better else -1.0
    cand_full = compute(metric, y, *candidate)
    champ_full = compute(metric, y, *champion)
    rng = np.random.default_rng(seed)
    n = len(y)
    deltas: list[float] = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        c_pred, c_score = candidate
        h_pred, h_score = champion
        c = compute(metric, y[idx], c_pred[idx], None if c_score is None else c_score[idx])
        h = compute(metric, y[idx], h_pred[idx], None if h_score is None else h_score[idx])
        if math.isfinite(c) and math.isfinite(h):
            deltas.append(sign * (c - h))
    alpha = (1.0 - level) / 2.0
    if deltas:
        low, high = (float(v) for v in np.quantile(deltas, [alpha, 1.0 - alpha]))
    else:
        low = high = float("nan")
    return PairedBootstrap(
        candidate=cand_full,
        champion=champ_full,
        delta=sign * (cand_full - champ_full),
        low=low,
        high=high,
        level=level,
        n_boot=n_boot,
        n_valid=len(deltas),
    )


@dataclass(frozen=True)
class Calibration:
    """Brier score, expected calibration error and the reliability curve.

    Attributes:
        brier: Mean squared difference between the score and the 0/1 outcome.
        ece: Sum over bins of (bin share of rows) x |mean score - observed positive rate|.
        bins: One dict per non-empty bin: ``low``, ``high``, ``count``, ``mean_score``,
            ``positive_rate`` (the calibration curve).
    """

    brier: float
    ece: float
    bins: list[dict[str, float]]


def calibration(y01: Array, score: Array, *, n_bins: int = 10) -> Calibration:
    """Calibration of positive-class scores against 0/1 outcomes with equal-width bins.

    A score of exactly 1.0 falls in the last bin.
    """
    y01 = np.asarray(y01, dtype=float)
    score = np.asarray(score, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(score, edges[1:-1], right=False), 0, n_bins - 1)
    ece = 0.0
    bins: list[dict[str, float]] = []
    for b in range(n_bins):
        mask = which == b
        count = int(mask.sum())
        if not count:
            continue
        mean_score = float(score[mask].mean())
        rate = float(y01[mask].mean())
        ece += count / len(score) * abs(mean_score - rate)
        bins.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "count": count,
                "mean_score": mean_score,
                "positive_rate": rate,
            }
        )
    brier = float(np.mean((score - y01) ** 2))
    return Calibration(brier=brier, ece=float(ece), bins=bins)


@dataclass(frozen=True)
class GroupRates:
    """Per-group rates for fairness.

    Attributes:
        positive_rate: Group -> share of rows predicted positive.
        tpr: Group -> true-positive rate (groups without positives are left out).
        counts: Group -> rows.
        demographic_parity_difference: max - min of ``positive_rate``.
        equal_opportunity_difference: max - min of ``tpr`` (``nan`` with under two groups).
    """

    positive_rate: dict[str, float]
    tpr: dict[str, float]
    counts: dict[str, int]
    demographic_parity_difference: float
    equal_opportunity_difference: float


def group_rates(groups: Array, y01: Array, pred01: Array) -> GroupRates:
    """Positive-prediction rate and true-positive rate per group, and their spreads."""
    positive_rate: dict[str, float] = {}
    tpr: dict[str, float] = {}
    counts: dict[str, int] = {}
    keys = np.asarray(groups, dtype=object)
    for group in sorted({str(g) for g in keys}):
        mask = np.array([str(g) == group for g in keys])
        counts[group] = int(mask.sum())
        positive_rate[group] = float(np.mean(pred01[mask] == 1))
        actual = mask & (y01 == 1)
        if actual.any():
            tpr[group] = float(np.mean(pred01[actual] == 1))
    return GroupRates(
        positive_rate=positive_rate,
        tpr=tpr,
        counts=counts,
        demographic_parity_difference=_spread(positive_rate),
        equal_opportunity_difference=_spread(tpr),
    )


def _spread(values: dict[str, Any]) -> float:
    if len(values) < 2:
        return float("nan") if not values else 0.0
    return float(max(values.values()) - min(values.values()))
