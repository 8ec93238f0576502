"""An MLflow-written model is imported into the registry and loads back as a safe flavor."""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from conveyor.registry import ModelRegistry
from conveyor.registry.flavors import UntrustedModelError, import_mlflow_model

pytestmark = pytest.mark.slow  # MLflow's import alone takes seconds


@pytest.fixture(params=["sqlite"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite is enough here: the records are the registry's own concern."""
    return f"sqlite:///{tmp_path / 'meta' / 'conveyor.db'}"


def test_a_pickled_mlflow_model_is_imported_once_and_served_from_skops(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, x["a"] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            model,
            str(tmp_path / "mlflow-model"),
            serialization_format="cloudpickle",
            input_example=x.head(4),
            pip_requirements=["scikit-learn"],
        )
    with pytest.raises(UntrustedModelError, match="is a pickle"):
        import_mlflow_model(registry, tmp_path / "mlflow-model", "churn")
    version = import_mlflow_model(registry, tmp_path / "mlflow-model", "churn", trusted=True)
    assert version.flavor == "sklearn"
    assert not version.trusted
    assert version.tags["imported_from"] == "mlflow"
    assert [c["name"] for c in version.signature["inputs"]] == ["a", "b", "c"]
    loaded = registry.load("churn@1")
    try:
        np.testing.assert_array_equal(loaded.predictor.predict(x), model.predict(x))
    finally:
        loaded.close()
