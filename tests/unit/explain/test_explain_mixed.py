"""Explanations of models whose raw inputs mix strings, categoricals, booleans, datetimes
and missing values: SHAP values come per raw input column, through the model's own
preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from conveyor.explain import ExplainError, global_importance, make_explainer
from conveyor.explain._columns import ColumnCodec
from conveyor.registry.flavors import Predictor, flavor_for

CATEGORICAL = ["island", "sex"]


def _loaded(model: object, tmp_path: Path) -> Predictor:
    flavor = flavor_for(model)
    return flavor.load(tmp_path, flavor.save(model, tmp_path))


def _penguins() -> tuple[pd.DataFrame, pd.Series]:
    frame = palmerpenguins.load_penguins()
    return frame.drop(columns=["species"]), frame["species"]


def _encoded(estimator: object, numeric: list[str]) -> Pipeline:
    pre = make_column_transformer(
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            CATEGORICAL,
        ),
        (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
    )
    return make_pipeline(pre, estimator)


def test_codec_round_trips_strings_bools_datetimes_categoricals_and_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "name": ["a", None, "b", "a"],
            "flag": [True, False, True, True],
            "maybe": [True, None, False, True],
            "when": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-01-01"]),
            "kind": pd.Categorical(["x", "y", None, "x"]),
            "count": [1, 2, 3, 4],
            "amount": [1.5, np.nan, 1e308, -2.0],
        }
    )
    codec = ColumnCodec(frame)
    encoded = codec.encode(frame)
    assert encoded.dtype == np.float64
    assert not codec.all_numeric
    decoded = codec.decode(encoded)
    expected = frame.copy()
    expected["maybe"] = pd.Series([True, np.nan, False, True], dtype=object)  # None: missing
    pd.testing.assert_frame_equal(decoded, expected, check_dtype=False)
    for column in ["flag", "when", "kind", "count", "amount"]:
        assert decoded[column].dtype == frame[column].dtype, column


def test_codec_refuses_a_column_of_unhashable_values_naming_it() -> None:
    frame = pd.DataFrame({"ok": [1.0, 2.0], "tags": [["a"], ["b", "c"]]})
    with pytest.raises(ExplainError, match="'tags'") as caught:
        ColumnCodec(frame)
    assert caught.value.hint


@pytest.mark.slow
def test_penguins_pipeline_with_one_hot_encoding_is_explained_per_raw_column(
    tmp_path: Path,
) -> None:
    x, y = _penguins()
    numeric = [c for c in x.columns if c not in CATEGORICAL]
    model = _encoded(LogisticRegression(max_iter=1000), numeric).fit(x, y)
    predictor = _loaded(model, tmp_path)
    background = x.sample(40, random_state=0)
    rows = x.iloc[[0, 3, 200, 300]]  # row 3 has every measurement missing
    explainer = make_explainer(predictor, background)
    explained = explainer.explain(rows)
    assert explainer.method == "permutation"
    assert explained.features == list(x.columns)
    assert explained.values.shape == (4, 7)
    assert np.isfinite(explained.values).all()
    # Efficiency: the values of each row add up to its probability of the predicted class
    # minus the background's expectation.
    proba = model.predict_proba(rows)
    picked = proba.argmax(axis=1)
    total = explained.values.sum(axis=1) + explained.base_values
    np.testing.assert_allclose(total, proba[np.arange(4), picked], atol=1e-6)


@pytest.mark.slow
def test_a_string_column_that_drives_the_target_ranks_first_and_a_noise_one_last(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    size = 300
    x = pd.DataFrame(
        {
            "plan": rng.choice(["basic", "plus", "pro"], size),
            "colour": rng.choice(["red", "green", None], size),
            "tenure": rng.normal(size=size),
            "active": rng.choice([True, False], size),
            "signed_up": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 365, size), unit="D"),
        }
    )
    y = x["plan"].map({"basic": 0.0, "plus": 5.0, "pro": 10.0}) + 0.5 * x["tenure"]
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["plan", "colour"]),
        (StandardScaler(), ["tenure"]),
        ("passthrough", ["active"]),
    )
    model = make_pipeline(features, LinearRegression()).fit(x, y)
    importance = global_importance(_loaded(model, tmp_path), x.head(80), budget_s=600)
    assert list(importance)[:2] == ["plan", "tenure"]
    # Columns the model ignores (signed_up is dropped) or barely uses get (almost) nothing.
    assert importance["signed_up"] == 0.0
    assert importance["colour"] < 0.05 * importance["plan"]


def test_a_model_predicting_strings_without_probabilities_is_refused_when_built(
    tmp_path: Path,
) -> None:
    x, y = _penguins()
    numeric = [c for c in x.columns if c not in CATEGORICAL]
    model = _encoded(LinearSVC(), numeric).fit(x, y)
    with pytest.raises(ExplainError, match="not numbers") as caught:
        make_explainer(_loaded(model, tmp_path), x.head(20))
    assert "predict_proba" in str(caught.value.hint)


def test_an_empty_background_is_refused_with_a_hint(tmp_path: Path) -> None:
    x, y = _penguins()
    numeric = [c for c in x.columns if c not in CATEGORICAL]
    model = _encoded(LogisticRegression(max_iter=1000), numeric).fit(x, y)
    with pytest.raises(ExplainError, match="empty background") as caught:
        make_explainer(_loaded(model, tmp_path), x.head(0))
    assert "input example" in str(caught.value.hint)
