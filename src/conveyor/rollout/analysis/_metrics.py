"""Per-request scores of the model metric, oriented so that larger means worse."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from conveyor.rollout.analysis._errors import AnalysisError
from conveyor.rollout.analysis._stats import VariantStats

#: Metric name -> (larger is better, per-request values are 0/1).
METRICS: dict[str, tuple[bool, bool]] = {
    "accuracy": (True, True),
    "error": (False, True),
    "mae": (False, False),
    "mse": (False, False),
}


def check_metric(metric: str) -> None:
    """Raise :class:`AnalysisError` unless ``metric`` is supported."""
    if metric not in METRICS:
        raise AnalysisError(
            f"Analysis metric {metric!r} is not supported; supported: {', '.join(METRICS)}.",
            hint="Set environments.<env>.analysis.metric to one of them.",
            metric=metric,
        )


def metric_values(stats: VariantStats, metric: str) -> npt.NDArray[np.float64]:
    """The metric's value on each labelled prediction (NaN-free).

    Args:
        stats: One variant's traffic.
        metric: A key of :data:`METRICS`.

    Returns:
        ``accuracy``/``error``: 1.0 where the prediction equals (differs from) its label;
        ``mae``/``mse``: absolute or squared error of numeric predictions.

    Raises:
        AnalysisError: unknown metric, or non-numeric values for a regression metric.
    """
    check_metric(metric)
    mask = stats.label_mask()
    predictions: npt.NDArray[Any] = np.asarray(stats.predictions)[mask]
    labels: npt.NDArray[Any] = np.asarray(stats.labels)[mask] if mask.any() else predictions
    if metric in ("accuracy", "error"):
        equal = _equal(predictions, labels)
        return (equal if metric == "accuracy" else ~equal).astype(float)
    try:
        residual = predictions.astype(float) - labels.astype(float)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(
            f"Metric {metric!r} needs numeric predictions and labels: {exc}.",
            hint="Use accuracy for classifiers.",
            metric=metric,
        ) from exc
    result: npt.NDArray[np.float64] = np.abs(residual) if metric == "mae" else residual**2
    return result


def badness(values: npt.NDArray[np.float64], metric: str) -> npt.NDArray[np.float64]:
    """Values turned so that larger means worse (accuracy -> 1 - accuracy)."""
    higher_better, _ = METRICS[metric]
    return 1.0 - values if higher_better else values


def _equal(predictions: npt.NDArray[Any], labels: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    try:
        return np.asarray(predictions.astype(float) == labels.astype(float), dtype=bool)
    except (TypeError, ValueError):
        pairs = zip(predictions, labels, strict=True)
        return np.fromiter((_same(p, y) for p, y in pairs), bool, len(labels))


def _same(prediction: Any, label: Any) -> bool:
    try:
        if bool(prediction == label):
            return True
    except (TypeError, ValueError):  # array-valued predictions compare element-wise
        return False
    try:  # 1 and "1" or 1.0: labels arrive through JSON feedback as any of them
        return float(prediction) == float(label)
    except (TypeError, ValueError):
        return str(prediction) == str(label)
