"""Reading MLflow model directories: flavors, signature, input example, pickle refusal."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.registry.flavors import (
    FlavorError,
    UntrustedModelError,
    read_mlflow_model,
)

# Importing MLflow's flavor modules takes several seconds on first use.
pytestmark = pytest.mark.slow


def _save(flavor: str, model: Any, path: Path, **kwargs: Any) -> None:
    import importlib

    module = importlib.import_module(f"mlflow.{flavor}")
    with warnings.catch_warnings():  # MLflow's own deprecation and schema hints
        warnings.simplefilter("ignore")
        # Declared requirements: MLflow would otherwise probe them in a subprocess.
        module.save_model(model, str(path), pip_requirements=[flavor], **kwargs)


@pytest.fixture(scope="module")
def logreg() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    return LogisticRegression().fit(x, (x["a"] > 0).astype(int)), x


def test_a_skops_sklearn_model_is_read_with_its_signature_and_example(
    logreg: tuple[LogisticRegression, pd.DataFrame], tmp_path: Path
) -> None:
    model, x = logreg
    _save("sklearn", model, tmp_path / "m", input_example=x.head(3))
    imported = read_mlflow_model(tmp_path / "m")
    assert imported.flavor == "sklearn"
    assert imported.source_flavor == "sklearn"
    assert imported.signature is not None
    assert [(c.name, c.type) for c in imported.signature.inputs] == [
        ("a", "double"),
        ("b", "double"),
        ("c", "double"),
    ]
    assert imported.signature.outputs is not None
    assert imported.signature.outputs[0].name == "prediction"
    assert imported.input_example is not None
    pd.testing.assert_frame_equal(imported.input_example, x.head(3).reset_index(drop=True))
    np.testing.assert_array_equal(imported.model.predict(x), model.predict(x))
    assert imported.info["version"]


def test_a_pickled_sklearn_model_is_refused_unless_trusted(
    logreg: tuple[LogisticRegression, pd.DataFrame], tmp_path: Path
) -> None:
    model, x = logreg
    _save("sklearn", model, tmp_path / "m", serialization_format="cloudpickle")
    with pytest.raises(UntrustedModelError, match="Refusing to import the scikit-learn model"):
        read_mlflow_model(tmp_path / "m")
    imported = read_mlflow_model(tmp_path / "m", trusted=True)
    assert imported.flavor == "sklearn"  # re-registered as skops, never a pickle again
    assert imported.signature is None
    assert imported.input_example is None
    np.testing.assert_array_equal(imported.model.predict(x), model.predict(x))


def test_an_xgboost_model_is_read_from_its_native_file(tmp_path: Path) -> None:
    import xgboost as xgb

    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(60, 2)), columns=["p", "q"])
    model = xgb.XGBRegressor(n_estimators=5).fit(x, x["p"] * 2)
    _save("xgboost", model, tmp_path / "m")
    imported = read_mlflow_model(tmp_path / "m")
    assert imported.flavor == "xgboost"
    np.testing.assert_allclose(imported.model.predict(x), model.predict(x))


def test_a_directory_without_mlmodel_is_explained(tmp_path: Path) -> None:
    with pytest.raises(FlavorError, match="has no MLmodel file"):
        read_mlflow_model(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors:\n  h2o: {}\n")
    with pytest.raises(FlavorError, match=r"no flavor conveyor can import \(it has: h2o\)"):
        read_mlflow_model(tmp_path)
