"""SHAP explanations: the feature that drives a synthetic target ranks first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.explain import ExplainError, explain_rows, global_importance, make_explainer
from conveyor.registry.flavors import Predictor, flavor_for

# Importing SHAP and compiling its permutation kernels (numba) takes several seconds.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    """``y`` is driven by ``driver``; ``weak`` matters a little; ``noise`` not at all."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(300, 3)), columns=["noise", "driver", "weak"])
    y = 4.0 * x["driver"] + 0.5 * x["weak"] + rng.normal(scale=0.05, size=300)
    return x, y


def _loaded(model: object, tmp_path: Path) -> Predictor:
    flavor = flavor_for(model)
    return flavor.load(tmp_path, flavor.save(model, tmp_path))


@pytest.mark.parametrize(
    ("build", "method"),
    [
        (lambda: RandomForestRegressor(n_estimators=20, max_depth=4, random_state=0), "tree"),
        (lambda: xgb.XGBRegressor(n_estimators=20, max_depth=3), "tree"),
        (lambda: make_pipeline(StandardScaler(), LinearRegression()), "linear"),
        (lambda: KNeighborsRegressor(n_neighbors=5), "permutation"),
    ],
    ids=["forest", "xgboost", "scaled-linear", "knn"],
)
def test_global_importance_ranks_the_driving_feature_first(
    build: object, method: str, data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = data
    predictor = _loaded(build().fit(x, y), tmp_path)  # type: ignore[operator]
    sample = x.head(60)
    assert make_explainer(predictor, sample).method == method
    importance = global_importance(predictor, sample, budget_s=600)  # all 60 rows
    assert list(importance) == ["driver", "weak", "noise"]
    assert importance["driver"] > 5 * importance["weak"] > 0


def test_linear_row_values_add_up_to_the_prediction(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = data
    model = make_pipeline(StandardScaler(), LinearRegression()).fit(x, y)
    predictor = _loaded(model, tmp_path)
    rows = x.tail(5)
    explained = explain_rows(predictor, x.head(100), rows)
    assert explained.values.shape == (5, 3)
    total = explained.values.sum(axis=1) + explained.base_values
    # The linear explainer's base is the background's mean prediction: additivity holds.
    np.testing.assert_allclose(total, model.predict(rows), atol=1e-6)
    records = explained.to_records()
    assert set(records[0]) == {"noise", "driver", "weak"}


def test_classifiers_explain_the_positive_class(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = data
    predictor = _loaded(LogisticRegression().fit(x, y > 0), tmp_path)
    explained = explain_rows(predictor, x.head(50), x.tail(4))
    assert explained.values.shape == (4, 3)
    # A row with a large driver pushes toward the positive class.
    high = x.tail(4)["driver"].to_numpy().argmax()
    assert explained.values[high, 1] > 0


def test_an_empty_frame_cannot_be_explained(
    data: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = data
    predictor = _loaded(LinearRegression().fit(x, y), tmp_path)
    with pytest.raises(ExplainError, match="empty frame"):
        global_importance(predictor, x.head(0))
