"""Holdout metrics computed with numpy, fast enough to recompute on every bootstrap resample.

Each metric takes the true labels, the predicted labels and (for ranking and probability
metrics) the positive-class scores, all as 1-D arrays of one length, and returns a float
(``nan`` when the metric is undefined for that sample, e.g. ROC AUC with a single class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from conveyor.checks.model._errors import ModelCheckInputError

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Metric:
    """One named metric.

    Attributes:
        name: The name used in check params (``roc_auc``, ``accuracy`` ...).
        fn: ``fn(y_true, y_pred, y_score) -> float``.
        higher_is_better: False for losses and errors.
        needs_score: True when the metric reads the positive-class scores.
    """

    name: str
    fn: Callable[[Array, Array, Array | None], float]
    higher_is_better: bool = True
    needs_score: bool = False


def _accuracy(y: Array, pred: Array, score: Array | None) -> float:
    return float(np.mean(y == pred)) if len(y) else float("nan")


def _binary_counts(y: Array, pred: Array) -> tuple[float, float, float]:
    positive = y == 1
    predicted = pred == 1
    tp = float(np.sum(positive & predicted))
    fp = float(np.sum(~positive & predicted))
    fn = float(np.sum(positive & ~predicted))
    return tp, fp, fn


def _precision(y: Array, pred: Array, score: Array | None) -> float:
    tp, fp, _ = _binary_counts(y, pred)
    return tp / (tp + fp) if tp + fp else float("nan")


def _recall(y: Array, pred: Array, score: Array | None) -> float:
    tp, _, fn = _binary_counts(y, pred)
    return tp / (tp + fn) if tp + fn else float("nan")


def _f1(y: Array, pred: Array, score: Array | None) -> float:
    tp, fp, fn = _binary_counts(y, pred)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


def _roc_auc(y: Array, pred: Array, score: Array | None) -> float:
    assert score is not None
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # Mann-Whitney U with average ranks for ties: equals the area under the ROC curve.
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=float)
    sorted_scores = score[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _brier(y: Array, pred: Array, score: Array | None) -> float:
    assert score is not None
    return float(np.mean((score - (y == 1)) ** 2)) if len(y) else float("nan")


def _log_loss(y: Array, pred: Array, score: Array | None) -> float:
    assert score is not None
    if not len(y):
        return float("nan")
    p = np.clip(score, 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log(1 - p))))


def _mae(y: Array, pred: Array, score: Array | None) -> float:
    return float(np.mean(np.abs(y - pred))) if len(y) else float("nan")


def _mse(y: Array, pred: Array, score: Array | None) -> float:
    return float(np.mean((y - pred) ** 2)) if len(y) else float("nan")


def _rmse(y: Array, pred: Array, score: Array | None) -> float:
    return float(np.sqrt(_mse(y, pred, score)))


def _r2(y: Array, pred: Array, score: Array | None) -> float:
    total = float(np.sum((y - np.mean(y)) ** 2)) if len(y) else 0.0
    return 1.0 - float(np.sum((y - pred) ** 2)) / total if total else float("nan")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", _accuracy),
        Metric("precision", _precision),
        Metric("recall", _recall),
        Metric("f1", _f1),
        Metric("roc_auc", _roc_auc, needs_score=True),
        Metric("brier", _brier, higher_is_better=False, needs_score=True),
        Metric("log_loss", _log_loss, higher_is_better=False, needs_score=True),
        Metric("mae", _mae, higher_is_better=False),
        Metric("mse", _mse, higher_is_better=False),
        Metric("rmse", _rmse, higher_is_better=False),
        Metric("r2", _r2),
    )
}


def get_metric(name: str) -> Metric:
    """The metric called ``name``.

    Raises:
        ModelCheckInputError: No such metric; the message lists the valid names.
    """
    try:
        return METRICS[name]
    except KeyError:
        raise ModelCheckInputError(
            f"Unknown metric {name!r}.",
            hint=f"Use one of: {', '.join(sorted(METRICS))}.",
            metric=name,
        ) from None


def compute(metric: Metric, y: Array, pred: Array, score: Array | None) -> float:
    """``metric`` over the given rows, checking that scores exist when it needs them.

    Raises:
        ModelCheckInputError: The metric needs scores and the model gives none.
    """
    if metric.needs_score and score is None:
        raise ModelCheckInputError(
            f"Metric {metric.name!r} needs predicted probabilities, and the model has no "
            "predict_proba.",
            hint="Use a label metric (accuracy, f1, precision, recall) for this model.",
            metric=metric.name,
        )
    return metric.fn(y, pred, score)
