"""The ONNX twin: conversion of numeric scikit-learn models, parity, and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading

from conveyor.registry.flavors import (
    ColumnSpec,
    OnnxPredictor,
    Signature,
    flavor_for,
    get_flavor,
    infer_signature,
    parity,
    parity_frame,
    to_onnx,
)


def _reference(model: object, tmp_path: Path) -> object:
    flavor = get_flavor("sklearn")
    return flavor.load(tmp_path, flavor.save(model, tmp_path))


@pytest.mark.parametrize(
    "build",
    [
        lambda: make_pipeline(StandardScaler(), LogisticRegression()),
        lambda: RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0),
    ],
    ids=["scaled-logreg", "forest"],
)
def test_numeric_classifiers_convert_and_pass_parity_on_example_and_synthetic_rows(
    build: object, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = cancer
    model = build().fit(x, y)  # type: ignore[operator]
    signature = infer_signature(x.head(5))
    data = to_onnx(model, signature, x.head(5))
    assert data is not None
    twin = OnnxPredictor(data)
    assert twin.predict(x.head(3)).dtype.kind == "i"  # plain label array, no ZipMap
    check = parity_frame(x.head(5), signature, rows=200)
    assert len(check) == 200
    assert list(check.columns) == signature.columns
    result = parity(_reference(model, tmp_path), twin, check)
    assert result.passed, result
    assert result.rows == 200
    assert result.max_abs_diff <= 1e-5
    np.testing.assert_array_equal(
        twin.predict_array(x.head(7).to_numpy()), model.predict(x.head(7))
    )


def test_a_regressor_twin_passes_parity_relative_to_its_scale(
    cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, _ = cancer
    y = x["mean_area"] * 3.0
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(x, y)
    data = to_onnx(model, infer_signature(x.head()), x.head())
    assert data is not None
    result = parity(_reference(model, tmp_path), OnnxPredictor(data), x.head(50))
    assert result.passed
    assert result.to_dict()["rows"] == 50


def test_parity_fails_when_the_twin_predicts_differently(
    cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = cancer
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    other = make_pipeline(StandardScaler(), LogisticRegression(C=0.001)).fit(x, y)
    data = to_onnx(other, infer_signature(x.head()))
    assert data is not None
    result = parity(_reference(model, tmp_path), OnnxPredictor(data), x)
    assert not result.passed
    assert result.max_abs_diff > 1e-3


def test_models_that_cannot_be_converted_give_none(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    x, y = cancer
    x = x.iloc[:60, :3]
    y = y.iloc[:60]
    sig = infer_signature(x)
    assert to_onnx(LabelSpreading().fit(x, y), sig, x) is None  # no converter
    assert to_onnx(object(), sig, x) is None  # not scikit-learn
    text_sig = Signature([ColumnSpec("city", "string")])
    assert to_onnx(LogisticRegression().fit(x, y), text_sig, x) is None  # non-numeric input


def test_onnx_models_given_as_bytes_pick_the_onnx_flavor(
    iris: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = iris
    data = to_onnx(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), infer_signature(x)
    )
    assert data is not None
    flavor = flavor_for(data)
    assert flavor.name == "onnx"
    loaded = flavor.load(tmp_path, flavor.save(data, tmp_path))
    assert set(loaded.predict(x)) == {"setosa", "versicolor", "virginica"}
    assert loaded.predict_proba(x).shape == (150, 3)  # type: ignore[attr-defined]
    assert not get_flavor("onnx").handles(b"not an onnx model")
