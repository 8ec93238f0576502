"""Every built-in flavor saves a real model and loads it back predicting the same."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import torch
import xgboost as xgb
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.registry.flavors import Flavor, flavor_for, get_flavor, infer_signature, to_onnx


class TinyMLP(torch.nn.Module):
    """A two-layer network; its width is a constructor argument recorded at save time."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conveyor_init_kwargs = {"width": width}
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, width), torch.nn.ReLU(), torch.nn.Linear(width, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class RuleModel:
    """A pyfunc model: a threshold on one column, kept in its own JSON file."""

    def __init__(self, column: str, threshold: float) -> None:
        self.column = column
        self.threshold = threshold

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame[self.column].to_numpy() > self.threshold).astype(int)

    def save(self, folder: Path) -> None:
        (folder / "rule.json").write_text(json.dumps([self.column, self.threshold]))

    @classmethod
    def load(cls, folder: Path) -> RuleModel:
        column, threshold = json.loads((folder / "rule.json").read_text())
        return cls(column, threshold)


def _torch_mlp(x: pd.DataFrame, y: pd.Series) -> Any:
    torch.manual_seed(0)
    return TinyMLP(width=6)


def _onnx_model(x: pd.DataFrame, y: pd.Series) -> Any:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    return to_onnx(model, infer_signature(x.head()), x.head())


Builder = Callable[[pd.DataFrame, pd.Series], Any]
CASES: dict[str, tuple[str, str, Builder]] = {
    "sklearn-logreg": (
        "cancer",
        "sklearn",
        lambda x, y: make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
    ),
    "sklearn-forest": (
        "iris",
        "sklearn",
        lambda x, y: RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y),
    ),
    "sklearn-linear-array": ("cancer", "sklearn", lambda x, y: LinearRegression().fit(x.values, y)),
    "xgboost-classifier": (
        "cancer",
        "xgboost",
        lambda x, y: xgb.XGBClassifier(n_estimators=8, max_depth=3).fit(x, y),
    ),
    "xgboost-booster": (
        "cancer",
        "xgboost",
        lambda x, y: xgb.train({"max_depth": 3}, xgb.DMatrix(x, label=y), num_boost_round=5),
    ),
    "lightgbm-classifier": (
        "iris",
        "lightgbm",
        lambda x, y: lgb.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1).fit(x, y),
    ),
    "lightgbm-booster": (
        "cancer",
        "lightgbm",
        lambda x, y: lgb.train({"verbose": -1}, lgb.Dataset(x, label=y), num_boost_round=5),
    ),
    "pytorch-mlp": ("iris", "pytorch", _torch_mlp),
    "onnx-bytes": ("cancer", "onnx", _onnx_model),
    "pyfunc-rule": ("iris", "pyfunc", lambda x, y: RuleModel("petal_length_cm", 2.5)),
}


def _data(request: pytest.FixtureRequest, name: str) -> tuple[pd.DataFrame, pd.Series]:
    x, y = request.getfixturevalue(name)
    return x, y


@pytest.mark.parametrize("case", sorted(CASES))
def test_flavor_round_trip_predicts_the_same(
    case: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data_name, expected_flavor, build = CASES[case]
    x, y = _data(request, data_name)
    model = build(x, y)
    flavor = flavor_for(model)
    assert flavor.name == expected_flavor
    meta = flavor.save(model, tmp_path)
    json.dumps(meta)  # metadata is JSON
    loaded = get_flavor(flavor.name).load(tmp_path, json.loads(json.dumps(meta)))
    rows = x.head(40)
    before = _reference_predict(model, rows)
    after = loaded.predict(rows)
    assert len(after) == len(rows)
    np.testing.assert_array_equal(np.asarray(after), np.asarray(before))
    fast = getattr(loaded, "predict_array", None)
    if fast is not None:
        np.testing.assert_array_equal(fast(rows.to_numpy(dtype=float)), after)
    proba = getattr(loaded, "predict_proba", None)
    if proba is not None and hasattr(model, "predict_proba"):
        np.testing.assert_allclose(proba(rows), model.predict_proba(rows), rtol=1e-6)


def _reference_predict(model: Any, rows: pd.DataFrame) -> np.ndarray:
    if isinstance(model, torch.nn.Module):
        with torch.no_grad():
            return model(torch.tensor(rows.to_numpy(dtype=np.float32)))[:, 0].numpy()
    if isinstance(model, xgb.Booster):
        return model.predict(xgb.DMatrix(rows))
    if isinstance(model, bytes):
        sess_model = get_flavor("onnx")
        folder = Path(__import__("tempfile").mkdtemp())
        return sess_model.load(folder, sess_model.save(model, folder)).predict(rows)
    if isinstance(model, LinearRegression) and not hasattr(model, "feature_names_in_"):
        return model.predict(rows.to_numpy())
    return np.asarray(model.predict(rows))


def test_lightgbm_classifier_keeps_string_labels_and_probabilities(
    iris: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, y = iris
    model = lgb.LGBMClassifier(n_estimators=5, min_child_samples=5, verbose=-1).fit(x, y)
    flavor = get_flavor("lightgbm")
    loaded = flavor.load(tmp_path, flavor.save(model, tmp_path))
    assert set(loaded.predict(x)) <= {"setosa", "versicolor", "virginica"}
    assert loaded.predict_proba(x).shape == (len(x), 3)  # type: ignore[attr-defined]


def test_a_torchscript_module_is_kept_as_torchscript(tmp_path: Path) -> None:
    with warnings.catch_warnings():  # tracing is deprecated upstream; users may still do it
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.trace(TinyMLP().eval(), torch.zeros(1, 4))
    flavor = flavor_for(module)
    meta = flavor.save(module, tmp_path)
    assert meta["format"] == "torchscript"
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    loaded = flavor.load(tmp_path, meta)
    np.testing.assert_allclose(
        loaded.predict_array(x), module(torch.tensor(x))[:, 0].detach().numpy(), rtol=1e-6
    )  # type: ignore[attr-defined]


def test_user_flavors_registered_by_name_are_found(tmp_path: Path) -> None:
    from conveyor.registry.flavors import register_flavor, unregister_flavor

    class Constant(Flavor):
        name = "constant-test"

        @classmethod
        def handles(cls, model: Any) -> bool:
            return model == "constant"

        def save(self, model: Any, folder: Path) -> dict[str, Any]:
            return {}

        def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Any:
            return RuleModel("x", 0)

    register_flavor(Constant)
    try:
        assert flavor_for("constant").name == "constant-test"
        assert get_flavor("constant-test").name == "constant-test"
    finally:
        unregister_flavor("constant-test")
