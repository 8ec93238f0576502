"""AutoML on scikit-learn's bundled data sets: a fitted best model and a leaderboard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.metrics import r2_score, roc_auc_score

from conveyor.tuning import TuneError
from conveyor.tuning.automl import search
from conveyor.workspace import Workspace

FAMILIES = ["linear", "random_forest", "hist_gradient_boosting"]


@pytest.mark.slow
def test_classification_on_breast_cancer(tmp_path: Path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with Workspace.open(tmp_path) as ws:
        result = search(X, y, budget_s=None, max_trials=4, families=FAMILIES, workspace=ws)
        trial_runs = ws.runs.children(result.tune.run_id)
    assert result.metric == "roc_auc"
    board = result.leaderboard
    assert set(FAMILIES) <= set(board["family"])  # every family tried once first
    assert list(board["score"]) == sorted(board["score"], reverse=True)
    assert board.iloc[0]["family"] == result.best_family
    assert result.best_score == board.iloc[0]["score"] > 0.95
    assert (board["fit_s"] > 0).all()
    proba = result.best_estimator.predict_proba(X)[:, 1]
    assert roc_auc_score(y, proba) > 0.95
    assert len(trial_runs) == 4
    assert all("family" in run.params for run in trial_runs)


@pytest.mark.slow
def test_regression_on_diabetes_with_optional_families(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    families = ["linear", "hist_gradient_boosting", "lightgbm", "xgboost"]
    result = search(
        X, y, task="regression", budget_s=None, max_trials=4, families=families, workspace=tmp_path
    )
    assert result.metric == "r2"
    assert set(result.leaderboard["family"]) == set(families)
    assert result.best_score > 0.3
    assert r2_score(y, result.best_estimator.predict(X)) > 0.3
    assert set(result.best_params) == set(result.leaderboard.iloc[0]["params"])


def test_unknown_family_task_and_metric_are_refused(tmp_path: Path) -> None:
    X, y = np.zeros((10, 2)), np.array([0, 1] * 5)
    with pytest.raises(TuneError, match="Unknown model family 'svm'") as info:
        search(X, y, families=["svm"], workspace=tmp_path)
    assert "random_forest" in (info.value.hint or "")
    with pytest.raises(TuneError, match="task must be 'classification' or 'regression'"):
        search(X, y, task="ranking", workspace=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(TuneError, match="Unknown metric 'auc_roc'"):
        search(X, y, metric="auc_roc", workspace=tmp_path)
    with pytest.raises(TuneError, match="X has 10 rows but y has 9"):
        search(X, y[:9], workspace=tmp_path)
    with pytest.raises(TuneError, match="needs budget_s or max_trials"):
        search(X, y, budget_s=None, workspace=tmp_path)
    with pytest.raises(TuneError, match=r"'xgboost' needs class labels 0\.\.n-1; got \['a', 'b'\]"):
        search(X, np.array(["a", "b"] * 5), families=["xgboost"], workspace=tmp_path)
