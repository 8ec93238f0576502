"""AutoML on raw frames with strings, booleans, datetimes and missing values: the search
pipelines encode them, and the best estimator takes raw rows (and registers and loads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.metrics import accuracy_score, r2_score

from conveyor.tuning.automl import search
from conveyor.workspace import Workspace

pytestmark = pytest.mark.slow


def _penguins() -> tuple[pd.DataFrame, pd.Series]:
    frame = palmerpenguins.load_penguins()
    frame["measured"] = pd.to_datetime(frame["year"].astype(str) + "-06-01")
    frame["tagged"] = frame.index % 3 == 0
    return frame.drop(columns=["species"]), frame["species"]


def test_penguins_with_strings_and_missing_values_classify_and_the_model_registers(
    tmp_path: Path,
) -> None:
    X, y = _penguins()
    families = ["linear", "random_forest", "hist_gradient_boosting"]
    with Workspace.open(tmp_path) as ws:
        result = search(X, y, budget_s=None, max_trials=4, families=families, workspace=ws)
        assert set(families) <= set(result.leaderboard["family"])
        assert result.metric == "accuracy"
        assert result.best_score > 0.9
        assert list(result.dropped_columns) == ["measured"]
        assert accuracy_score(y, result.best_estimator.predict(X)) > 0.9
        unseen = X.head(3).assign(island=["Atlantis", None, "Dream"], sex=[None, "x", "male"])
        assert len(result.best_estimator.predict(unseen)) == 3
        registered = ws.models.register("penguins", result.best_estimator, input_example=X.head(20))
        loaded = ws.models.load(f"penguins@{registered.version}")
        np.testing.assert_array_equal(
            np.asarray(loaded.predictor.predict(X.head(20))),
            result.best_estimator.predict(X.head(20)),
        )


def test_diabetes_with_a_string_column_and_gaps_regresses(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
    X["sex"] = X["sex"].map({1.0: "female", 2.0: "male"})
    X.loc[X.index % 7 == 0, "bmi"] = np.nan
    families = ["linear", "hist_gradient_boosting", "lightgbm"]
    result = search(
        X, y, task="regression", budget_s=None, max_trials=4, families=families, workspace=tmp_path
    )
    assert result.metric == "r2"
    assert set(result.leaderboard["family"]) == set(families)
    assert result.best_score > 0.3
    assert r2_score(y, result.best_estimator.predict(X)) > 0.3
    assert result.dropped_columns == {}
