"""Model performance on the labelled part of a window, with a confidence interval.

Labels arrive late through ``/v1/feedback`` and are joined to predictions by request id
(the prediction log does the join; the newest label of a request wins). Proportions
(``accuracy``, ``error_rate``) get a Wilson score interval; averages of errors (``mae``,
``rmse``) a percentile bootstrap with a fixed seed. Every figure carries the number of
labels it rests on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.monitoring._errors import MonitoringError
from conveyor.monitoring._reference import FloatArray


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is computed from per-row losses and which direction is better."""

    name: str
    higher_is_better: bool
    loss: str  # "zero_one" or "absolute" or "squared"


METRICS: dict[str, MetricSpec] = {
    "accuracy": MetricSpec("accuracy", True, "zero_one"),
    "error_rate": MetricSpec("error_rate", False, "zero_one"),
    "mae": MetricSpec("mae", False, "absolute"),
    "rmse": MetricSpec("rmse", False, "squared"),
}


def metric_spec(name: str) -> MetricSpec:
    """The spec of a supported metric.

    Raises:
        MonitoringError: unknown metric (the message lists the supported ones).
    """
    try:
        return METRICS[name]
    except KeyError:
        raise MonitoringError(
            f"Monitoring cannot compute the metric {name!r}.",
            hint=f"Set monitoring.metric to one of: {', '.join(sorted(METRICS))}.",
            metric=name,
        ) from None


def losses(predictions: Sequence[Any], labels: Sequence[Any], spec: MetricSpec) -> FloatArray:
    """Per-row loss: 1 for a wrong class (``zero_one``), or the absolute/squared error.

    A probability predicted for a 0/1 label counts as class 1 at 0.5 and above.
    """
    if spec.loss == "zero_one":
        return np.array(
            [0.0 if _same_class(p, y) else 1.0 for p, y in zip(predictions, labels, strict=True)]
        )
    try:
        diff = np.asarray(predictions, dtype=np.float64) - np.asarray(labels, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MonitoringError(
            f"The metric {spec.name!r} needs numeric predictions and labels: {exc}.",
            hint="Use accuracy or error_rate for class labels (monitoring.metric).",
            metric=spec.name,
        ) from exc
    return np.abs(diff) if spec.loss == "absolute" else diff**2


def _same_class(prediction: Any, label: Any) -> bool:
    if isinstance(prediction, float) and isinstance(label, int | bool) and 0 <= prediction <= 1:
        return int(prediction >= 0.5) == int(label)
    if isinstance(prediction, int | float) and isinstance(label, int | float):
        return float(prediction) == float(label)
    return bool(prediction == label)


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (well-behaved near 0, 1 and for small ``n``)."""
    if n == 0:
        return (0.0, 1.0)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # Clamped to contain the estimate, which rounding can push just outside at 0 and 1.
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def metric_value(row_losses: FloatArray, spec: MetricSpec) -> float:
    """The metric from per-row losses."""
    mean = float(row_losses.mean())
    if spec.name == "accuracy":
        return 1.0 - mean
    return math.sqrt(mean) if spec.loss == "squared" else mean


def metric_with_ci(
    row_losses: FloatArray,
    spec: MetricSpec,
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """The metric, its confidence interval, the method, and the label count."""
    n = int(row_losses.size)
    if n == 0:
        return {"metric": spec.name, "value": None, "ci": None, "labels": 0, "method": None}
    value = metric_value(row_losses, spec)
    if spec.loss == "zero_one":
        errors = float(row_losses.sum())
        lo, hi = wilson_interval(n - errors if spec.name == "accuracy" else errors, n, confidence)
        method = "wilson"
    else:
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, n, size=(resamples, n))
        means = row_losses[picks].mean(axis=1)
        boot = np.sqrt(means) if spec.loss == "squared" else means
        lo, hi = (float(v) for v in np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2]))
        method = f"bootstrap({resamples})"
    return {
        "metric": spec.name,
        "value": value,
        "ci": [lo, hi],
        "confidence": confidence,
        "labels": n,
        "method": method,
    }


def metric_series(
    times: Sequence[Any], row_losses: FloatArray, spec: MetricSpec, *, buckets: int = 10
) -> list[dict[str, Any]]:
    """The metric over consecutive, equally sized groups of labelled rows (oldest first)."""
    n = row_losses.size
    if n == 0:
        return []
    parts = min(buckets, n)
    bounds = np.linspace(0, n, parts + 1).astype(int)
    series = []
    for start, end in itertools.pairwise(bounds):
        if end <= start:
            continue
        entry = metric_with_ci(row_losses[start:end], spec)
        series.append(
            {
                "start": str(times[start]),
                "end": str(times[end - 1]),
                "value": entry["value"],
                "ci": entry["ci"],
                "labels": int(end - start),
            }
        )
    return series


def is_degraded(
    measured: dict[str, Any], spec: MetricSpec, reference: float | None, tolerance: float
) -> bool:
    """Whether the whole confidence interval is worse than ``reference`` by ``tolerance``."""
    if reference is None or measured.get("ci") is None:
        return False
    lo, hi = measured["ci"]
    if spec.higher_is_better:
        return bool(hi < reference - tolerance)
    return bool(lo > reference + tolerance)
