"""Feature importance sanity: features a model gains nothing from.

A random forest is fitted on part of the table and each feature's permutation importance
measured on the rest: how much the score drops when that feature's values are shuffled.
A feature whose mean drop stays at or below ``min_importance`` carries no signal the model
uses (noise, a constant, or a duplicate of another feature): worth a warning, since it
costs serving and monitoring effort and invites spurious correlations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split

from conveyor.checks.data._errors import DataCheckInputError
from conveyor.checks.data._frames import encode_features, is_classification, sample_rows
from conveyor.checks.data._outcome import Outcome, fmt

_MIN_ROWS = 20


def permutation_importances(
    frame: pd.DataFrame,
    target: str,
    *,
    n_repeats: int = 10,
    max_rows: int = 5000,
    seed: int = 0,
) -> tuple[str, dict[str, dict[str, float]]]:
    """Mean and standard deviation of each feature's permutation importance.

    Classification is scored with ROC AUC for two classes and accuracy beyond (the
    smoother AUC keeps a noise feature's importance near zero), regression with R².

    Raises:
        DataCheckInputError: Fewer than 20 labelled rows.
    """
    data = sample_rows(frame[frame[target].notna()], max_rows, seed)
    if len(data) < _MIN_ROWS:
        raise DataCheckInputError(
            f"Feature importance needs at least {_MIN_ROWS} labelled rows; the table has "
            f"{len(data)}.",
            hint="Run the check on a larger dataset version.",
            rows=len(data),
        )
    features = data.drop(columns=[target])
    x = encode_features(features)
    classify = is_classification(data[target])
    model: Any
    if classify:
        y = pd.factorize(data[target].astype("object"))[0]
        binary = np.unique(y).size == 2
        scoring = "roc_auc" if binary else "accuracy"
        model = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
        stratify = y if np.unique(y, return_counts=True)[1].min() >= 2 else None
    else:
        y = data[target].to_numpy(dtype=float)
        scoring = "r2"
        model = RandomForestRegressor(n_estimators=100, random_state=seed, n_jobs=1)
        stratify = None
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=0.3, random_state=seed, stratify=stratify
    )
    model.fit(x_fit, y_fit)
    result = permutation_importance(
        model, x_val, y_val, scoring=scoring, n_repeats=n_repeats, random_state=seed
    )
    means, stds = result["importances_mean"], result["importances_std"]
    return scoring, {
        str(name): {"mean": float(means[i]), "std": float(stds[i])}
        for i, name in enumerate(features.columns)
    }


def check_importance(
    frame: pd.DataFrame,
    target: str,
    *,
    min_importance: float = 0.005,
    n_repeats: int = 10,
    max_rows: int = 5000,
    seed: int = 0,
) -> Outcome:
    """Flag every feature whose mean permutation importance is at most ``min_importance``.

    Returns:
        ``value`` is the number of flagged features; ``details["importances"]`` has mean
        and standard deviation per feature and ``details["flagged"]`` the flagged ones.
    """
    scoring, importances = permutation_importances(
        frame, target, n_repeats=n_repeats, max_rows=max_rows, seed=seed
    )
    flagged = [n for n, imp in importances.items() if imp["mean"] <= min_importance]
    ranked = sorted(importances, key=lambda n: -importances[n]["mean"])
    details: dict[str, Any] = {
        "scoring": scoring,
        "importances": importances,
        "flagged": flagged,
        "plot": {
            "kind": "bar",
            "title": f"Permutation importance ({scoring} drop) per feature",
            "x": ranked,
            "y": [importances[n]["mean"] for n in ranked],
            "error_y": [importances[n]["std"] for n in ranked],
            "threshold": min_importance,
        },
    }
    if flagged:
        listed = ", ".join(f"{n!r} ({fmt(importances[n]['mean'])})" for n in flagged)
        explanation = (
            f"{len(flagged)} of {len(importances)} features have a permutation importance "
            f"({scoring} drop) of at most {fmt(min_importance)}: {listed}. The model gains "
            "nothing from them; consider dropping them."
        )
    else:
        weakest = ranked[-1] if ranked else None
        explanation = (
            f"Every one of {len(importances)} features has a permutation importance above "
            f"{fmt(min_importance)}"
            + (
                f"; the weakest is {weakest!r} ({fmt(importances[weakest]['mean'])})."
                if weakest
                else "."
            )
        )
    return Outcome(not flagged, len(flagged), min_importance, explanation, details)
