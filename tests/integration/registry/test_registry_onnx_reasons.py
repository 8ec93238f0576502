"""Registering real models: an ONNX twin for a pipeline with encoders, a reason otherwise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.semi_supervised import LabelSpreading

from conveyor.registry import ModelRegistry

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(params=["sqlite"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite is enough here: the records are the registry's own concern."""
    return f"sqlite:///{tmp_path / 'meta' / 'conveyor.db'}"


@pytest.fixture(scope="module")
def penguins() -> tuple[pd.DataFrame, pd.Series]:
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    return frame.drop(columns=["species", "year"]), frame["species"]


def test_a_penguin_pipeline_with_one_hot_encoding_gets_a_served_onnx_twin(
    registry: ModelRegistry, penguins: tuple[pd.DataFrame, pd.Series]
) -> None:
    x, y = penguins
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["island", "sex"],
            ),
        ]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=3000))]).fit(x, y)
    version = registry.register("penguins", model, input_example=x.head(30))
    assert version.onnx is not None
    assert version.onnx["parity"]["passed"] is True
    loaded = registry.load(version.ref, prefer_onnx=True)
    assert loaded.uses_onnx
    rows = x.tail(10).reset_index(drop=True)
    assert loaded.predictor.predict(rows).tolist() == model.predict(rows).tolist()


def test_a_model_without_a_converter_records_why_it_has_no_twin(
    registry: ModelRegistry, penguins: tuple[pd.DataFrame, pd.Series]
) -> None:
    x, y = penguins
    numeric = x[NUMERIC].dropna().sample(80, random_state=0)
    model = LabelSpreading().fit(numeric, y.loc[numeric.index].factorize()[0])
    version = registry.register("spread", model, input_example=numeric.head(10))
    assert version.onnx is not None
    assert "hash" not in version.onnx
    assert version.onnx["reason"].startswith("skl2onnx cannot convert LabelSpreading")
    assert not registry.load(version.ref, prefer_onnx=True).uses_onnx
