"""Flavors through the registry: an ONNX twin with a recorded parity check, SHAP importance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor
from conveyor.explain import global_importance
from conveyor.registry import ModelRegistry
from conveyor.store import MetadataStore


@pytest.fixture(params=["sqlite"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite is enough here: the records are the registry's own concern."""
    return f"sqlite:///{tmp_path / 'meta' / 'conveyor.db'}"


@pytest.mark.slow  # SHAP's import
def test_a_scikit_learn_model_registers_with_a_passing_onnx_twin_and_importance(
    store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 3)), columns=["noise", "driver", "weak"])
    y = (3 * x["driver"] + 0.3 * x["weak"] > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    registry = ModelRegistry(
        store, artifacts, actor=Actor("alice"), root=tmp_path, importance_fn=global_importance
    )
    version = registry.register("churn", model, input_example=x.head(20))
    assert version.flavor == "sklearn"
    assert version.onnx is not None
    assert version.onnx["parity"]["passed"] is True
    assert version.onnx["parity"]["rows"] == 200
    assert version.importance is not None
    assert next(iter(version.importance)) == "driver"
    for prefer_onnx in (False, True):
        loaded = registry.load("churn", prefer_onnx=prefer_onnx)
        try:
            np.testing.assert_array_equal(loaded.predictor.predict(x), model.predict(x))
        finally:
            loaded.close()
