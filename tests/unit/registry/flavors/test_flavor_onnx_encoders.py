"""ONNX twins of pipelines that encode string columns themselves, and the reasons recorded
when a model cannot be converted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.semi_supervised import LabelSpreading

from conveyor.registry.flavors import (
    OnnxPredictor,
    convert_to_onnx,
    get_flavor,
    infer_signature,
    parity,
    parity_frame,
)

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]
CATEGORICAL = ["island", "sex"]


@pytest.fixture(scope="module")
def penguins() -> tuple[pd.DataFrame, pd.Series]:
    """Penguins: two string columns (``sex`` with missing values), numeric ones with NaN."""
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    return frame.drop(columns=["species"]), frame["species"]


def penguin_pipeline(encoder: Any) -> Pipeline:
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), CATEGORICAL),
        ]
    )
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=3000))])


@pytest.mark.parametrize(
    "encoder",
    [OneHotEncoder(handle_unknown="ignore"), OrdinalEncoder()],
    ids=["onehot", "ordinal"],
)
def test_a_pipeline_encoding_string_columns_converts_and_passes_parity(
    encoder: Any, penguins: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = penguins
    model = penguin_pipeline(encoder).fit(x, y)
    signature = infer_signature(x, model)
    assert {s.name: s.type for s in signature.inputs}["sex"] == "string"
    conversion = convert_to_onnx(model, signature)
    assert conversion.reason is None
    assert conversion.data is not None
    twin = OnnxPredictor(conversion.data)
    flavor = get_flavor("sklearn")
    native = flavor.load(tmp_path, flavor.save(model, tmp_path))
    missing = x[x["sex"].isna()]
    assert len(missing) > 0  # rows whose string column is missing are imputed alike
    np.testing.assert_array_equal(twin.predict(missing), model.predict(missing))
    result = parity(native, twin, parity_frame(x.head(20), signature))
    assert result.passed, result


def test_the_reason_is_recorded_when_a_model_cannot_be_converted(
    penguins: tuple[pd.DataFrame, pd.Series],
) -> None:
    x, y = penguins
    numeric = x[NUMERIC].dropna().sample(60, random_state=0)
    labels = y.loc[numeric.index]
    no_converter = convert_to_onnx(
        LabelSpreading().fit(numeric, labels.factorize()[0]), infer_signature(numeric)
    )
    assert no_converter.data is None
    assert no_converter.reason is not None
    assert no_converter.reason.startswith("skl2onnx cannot convert LabelSpreading")
    plain = convert_to_onnx(object(), infer_signature(numeric))
    assert plain.reason == "the model is not a scikit-learn estimator (object)"
    dated = numeric.assign(when=pd.date_range("2024-01-01", periods=len(numeric)))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(numeric, labels)
    reason = convert_to_onnx(model, infer_signature(dated)).reason
    assert reason is not None
    assert "'when' (datetime)" in reason


def test_a_numeric_model_still_converts_to_one_tensor_input(
    penguins: tuple[pd.DataFrame, pd.Series],
) -> None:
    x, y = penguins
    numeric = x[NUMERIC].dropna()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(
        numeric, y.loc[numeric.index]
    )
    data = convert_to_onnx(model, infer_signature(numeric)).data
    assert data is not None
    inputs = OnnxPredictor(data).session.get_inputs()
    assert [(i.name, i.shape[1]) for i in inputs] == [("input", len(NUMERIC))]


def test_nullable_columns_reach_the_twin_as_nan_and_empty_strings(
    penguins: tuple[pd.DataFrame, pd.Series],
) -> None:
    x, y = penguins
    model = penguin_pipeline(OneHotEncoder(handle_unknown="ignore")).fit(x, y)
    data = convert_to_onnx(model, infer_signature(x, model)).data
    assert data is not None
    rows = x.head(4).copy()
    rows["bill_length_mm"] = pd.array([None, 39.1, None, 40.0], dtype="Float64")
    rows["sex"] = pd.array([None, "male", None, "female"], dtype="string")
    plain = rows.copy()  # the same rows as scikit-learn takes them: NaN, not NA
    plain["bill_length_mm"] = [np.nan, 39.1, np.nan, 40.0]
    plain["sex"] = np.array([np.nan, "male", np.nan, "female"], dtype=object)
    expected = model.predict(plain)
    np.testing.assert_array_equal(OnnxPredictor(data).predict(rows), expected)
