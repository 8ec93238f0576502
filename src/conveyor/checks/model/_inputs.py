"""Turning a holdout frame and a model into the arrays the model checks measure.

Every check goes through these functions, so an empty holdout, a missing column or a model
without probabilities fails the same way everywhere: a :class:`ModelCheckInputError` that
names the problem and what to do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._metrics import Array


@dataclass(frozen=True)
class Outcome:
    """What a model check found, before the framework wraps it in a ``CheckResult``.

    Attributes:
        passed: Whether the requirement held.
        value: The measured value (a float, or a dict of named floats).
        threshold: What was required (a float, or a dict).
        explanation: One or two sentences: what was measured against what was required.
        details: JSON-able extra data (``plot`` for the HTML report).
        status: ``passed``/``failed`` by default; ``skipped`` when nothing could be judged.
    """

    passed: bool
    value: Any
    threshold: Any
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)
    status: str | None = None

    @property
    def final_status(self) -> str:
        """The status to record: the explicit one, else from ``passed``."""
        return self.status or ("passed" if self.passed else "failed")


@dataclass(frozen=True)
class Scored:
    """A model's answers on a holdout.

    Attributes:
        y: True labels (0/1 encoded when a positive label applies).
        pred: Predicted labels or values (encoded like ``y``).
        score: Positive-class probabilities, or ``None`` when the model has none.
    """

    y: Array
    pred: Array
    score: Array | None

    def take(self, mask: Array) -> Scored:
        """The rows selected by a boolean mask or an index array."""
        return Scored(
            self.y[mask], self.pred[mask], None if self.score is None else self.score[mask]
        )


def require_rows(frame: pd.DataFrame, what: str = "holdout") -> None:
    """Raise a clear error when the frame has no rows."""
    if len(frame) == 0:
        raise ModelCheckInputError(
            f"The {what} is empty (0 rows): there is nothing to evaluate the model on.",
            hint="Check the step that produces the holdout (evaluation.holdout_step) and its "
            "split size.",
            rows=0,
        )


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise an error naming each missing column and listing the ones that exist."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise ModelCheckInputError(
            f"The {what} column{'s' if len(missing) > 1 else ''} {listed} "
            f"{'are' if len(missing) > 1 else 'is'} not in the holdout. Columns: "
            f"{', '.join(str(c) for c in frame.columns)}.",
            hint="Fix the column name in conveyor.yaml (evaluation section) or add the "
            "column to the holdout.",
            missing=missing,
            columns=[str(c) for c in frame.columns],
        )


def positive_label_of(y: Array, positive_label: Any = None) -> Any:
    """The positive label: the one given, else 1 for 0/1 labels and ``True`` for booleans.

    Returns ``None`` for anything that is not a binary problem.
    """
    if positive_label is not None:
        return positive_label
    values = set(pd.unique(pd.Series(y)).tolist())
    if values <= {0, 1} or values <= {False, True}:
        return 1
    return None


def predict_scored(
    predictor: Any, features: pd.DataFrame, y: Array, positive_label: Any = None
) -> Scored:
    """Predict once and encode labels, predictions and positive-class scores.

    ``predictor`` needs ``predict(frame)``; ``predict_proba(frame)`` is used when present.
    """
    require_rows(features)
    pred = np.asarray(predictor.predict(features))
    positive = positive_label_of(y, positive_label)
    score = positive_scores(predictor, features, positive)
    if positive is None:
        return Scored(np.asarray(y), pred, score)
    return Scored(binarize(y, positive), binarize(pred, positive), score)


def positive_scores(predictor: Any, features: pd.DataFrame, positive: Any) -> Array | None:
    """Probability of the positive label, or ``None`` without ``predict_proba``."""
    proba_fn = getattr(predictor, "predict_proba", None)
    if positive is None or not callable(proba_fn):
        return None
    proba = np.asarray(proba_fn(features), dtype=float)
    if proba.ndim == 1:
        return proba
    classes = model_classes(predictor)
    column = proba.shape[1] - 1
    if classes is not None:
        matches = [i for i, c in enumerate(classes) if c == positive]
        if matches:
            column = matches[0]
    return np.asarray(proba[:, column], dtype=float)


def model_classes(predictor: Any) -> Sequence[Any] | None:
    """The class labels of a classifier (on it or on its wrapped ``model``), if known."""
    for holder in (predictor, getattr(predictor, "model", None)):
        classes = getattr(holder, "classes_", None)
        if classes is not None:
            return list(classes)
    return None


def binarize(values: Array, positive: Any) -> Array:
    """1 where the value equals the positive label, else 0."""
    same: Array = np.asarray(values) == positive
    return same.astype(int)


def finite(value: Any) -> bool:
    """True for a real, finite number (``None`` and NaN are not)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any) -> str:
    """A number for an explanation: 4 significant digits."""
    return f"{float(value):.4g}" if finite(value) else str(value)
