"""Label leakage: a single feature that predicts the target almost perfectly.

Each feature alone is fitted with a shallow decision tree and scored out of fold (3-fold
cross-validation), so a feature is judged on rows it was not fitted to: ROC AUC for class
labels (one-vs-rest macro average beyond two classes), R² for a numeric target (the larger
of the tree's and the squared linear correlation, which catches a noisy copy of the target
that a shallow tree would only approximate). A real feature rarely scores above 0.99 alone;
a copy of the label, or something computed from it, does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from conveyor.checks.data._frames import (
    column_kind,
    encode_feature,
    is_classification,
    sample_rows,
)
from conveyor.checks.data._outcome import Outcome, fmt

_FOLDS = 3


def _classification_score(x: np.ndarray, y: np.ndarray, depth: int, seed: int) -> float | None:
    labels, counts = np.unique(y, return_counts=True)
    if labels.size < 2 or counts.min() < 2:
        return None
    folds = StratifiedKFold(
        n_splits=min(_FOLDS, int(counts.min())), shuffle=True, random_state=seed
    )
    tree = DecisionTreeClassifier(max_depth=depth, random_state=seed)
    proba = cross_val_predict(tree, x.reshape(-1, 1), y, cv=folds, method="predict_proba")
    if labels.size == 2:
        return float(roc_auc_score(y == labels[1], proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels))


def _regression_score(
    x: np.ndarray, y: np.ndarray, numeric: bool, depth: int, seed: int
) -> float | None:
    if np.unique(y).size < 2 or y.size < _FOLDS:
        return None
    folds = KFold(n_splits=_FOLDS, shuffle=True, random_state=seed)
    tree = DecisionTreeRegressor(max_depth=depth, random_state=seed)
    predicted = cross_val_predict(tree, x.reshape(-1, 1), y, cv=folds)
    score = float(r2_score(y, predicted))
    present = ~np.isnan(x)
    if numeric and present.sum() > 2 and np.std(x[present]) > 0:
        score = max(score, float(np.corrcoef(x[present], y[present])[0, 1] ** 2))
    return score


def single_feature_scores(
    frame: pd.DataFrame, target: str, *, depth: int = 4, max_rows: int = 5000, seed: int = 0
) -> tuple[str, dict[str, float]]:
    """How well each feature alone predicts ``target``.

    Returns:
        The metric name (``"roc_auc"`` or ``"r2"``) and the score per feature (features that
        cannot be scored, such as constant ones, are left out).
    """
    data = sample_rows(frame[frame[target].notna()], max_rows, seed)
    classify = is_classification(data[target])
    y_raw = data[target]
    y = pd.factorize(y_raw.astype("object"))[0] if classify else y_raw.to_numpy(dtype=float)
    scores: dict[str, float] = {}
    for name in data.columns:
        if name == target:
            continue
        x = encode_feature(data[name])
        if np.all(np.isnan(x)) or np.nanstd(x) == 0:
            continue
        if classify:
            score = _classification_score(x, y, depth, seed)
        else:
            score = _regression_score(x, y, column_kind(data[name]) == "numeric", depth, seed)
        if score is not None:
            scores[str(name)] = score
    return ("roc_auc" if classify else "r2"), scores


def detect_leakage(
    frame: pd.DataFrame,
    target: str,
    *,
    max_score: float = 0.99,
    depth: int = 4,
    max_rows: int = 5000,
    seed: int = 0,
) -> Outcome:
    """Flag every feature whose single-feature score exceeds ``max_score``.

    Returns:
        ``value`` is the highest single-feature score; ``details["scores"]`` has them all
        and ``details["leaking"]`` the flagged features.
    """
    metric, scores = single_feature_scores(frame, target, depth=depth, max_rows=max_rows, seed=seed)
    leaking = sorted((n for n, s in scores.items() if s > max_score), key=lambda n: -scores[n])
    best = max(scores, key=lambda n: scores[n]) if scores else None
    value = scores[best] if best is not None else None
    details: dict[str, Any] = {
        "metric": metric,
        "scores": scores,
        "leaking": leaking,
        "plot": {
            "kind": "bar",
            "title": f"Single-feature {metric} per feature",
            "x": list(scores),
            "y": list(scores.values()),
            "threshold": max_score,
        },
    }
    if leaking:
        listed = ", ".join(f"{n!r} ({metric} {fmt(scores[n])})" for n in leaking)
        explanation = (
            f"{len(leaking)} feature{'s alone predict' if len(leaking) > 1 else ' alone predicts'} "
            f"{target!r} almost perfectly (single-feature {metric} above {fmt(max_score)}): "
            f"{listed}. They likely leak the label."
        )
    elif best is None:
        explanation = f"No feature could be scored against {target!r}."
    else:
        explanation = (
            f"No feature alone predicts {target!r} almost perfectly: the best is {best!r} "
            f"with single-feature {metric} {fmt(value)} (at most {fmt(max_score)} allowed)."
        )
    return Outcome(not leaking, value, max_score, explanation, details)
