"""Crafted MLflow model directories: class paths are checked before import, and every path
they name stays inside the directory (no ``../``, no absolute paths, no symlinks out)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from conveyor.core import UnsafePathError, UntrustedContentError
from conveyor.registry.flavors import (
    FlavorError,
    UntrustedModelError,
    get_flavor,
    read_mlflow_model,
)

PAYLOAD = "open({marker!r}, 'w').write('imported')\nclass Evil:\n    pass\n"


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    x.columns = [f"f{i}" for i in range(x.shape[1])]
    return x.iloc[:, :4], y


def _mlmodel(folder: Path, spec: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    return folder


def _xgb_dir(folder: Path, cancer: tuple[pd.DataFrame, pd.Series], model_class: Any) -> Path:
    import xgboost as xgb

    x, y = cancer
    model = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_model(str(folder / "model.ubj"))
    flavor = {"data": "model.ubj", "model_class": model_class}
    return _mlmodel(folder, {"flavors": {"xgboost": flavor}})


@pytest.mark.parametrize(
    "model_class", ["payload.Evil", "subprocess.Popen", "os.system", "xgboost.core.os", ["x"]]
)
def test_a_class_path_outside_the_flavor_list_is_refused_before_any_import(
    model_class: Any,
    cancer: tuple[pd.DataFrame, pd.Series],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "imported.txt"
    (tmp_path / "payload.py").write_text(PAYLOAD.format(marker=str(marker)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))  # the directory next to the model importable
    monkeypatch.chdir(tmp_path)
    folder = _xgb_dir(tmp_path / "model", cancer, model_class)
    with pytest.raises(UntrustedModelError, match="not one of the allowed classes") as info:
        read_mlflow_model(folder)
    assert str(model_class if isinstance(model_class, str) else repr(model_class)) in str(
        info.value
    )
    assert not marker.exists()
    assert "payload" not in __import__("sys").modules


@pytest.mark.parametrize("model_class", ["xgboost.sklearn.XGBClassifier", "xgboost.core.Booster"])
def test_an_allowed_xgboost_class_still_imports_and_predicts(
    model_class: str, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, _ = cancer
    imported = read_mlflow_model(_xgb_dir(tmp_path / "model", cancer, model_class))
    assert type(imported.model).__name__ == model_class.rpartition(".")[2]
    if model_class.endswith("XGBClassifier"):
        assert np.asarray(imported.model.predict(x.head(3))).shape == (3,)


def test_a_lightgbm_model_class_outside_the_list_is_refused(tmp_path: Path) -> None:
    folder = _mlmodel(
        tmp_path / "m", {"flavors": {"lightgbm": {"data": "model.lgb", "model_class": "os.system"}}}
    )
    with pytest.raises(UntrustedContentError, match=r"'os\.system'"):
        read_mlflow_model(folder)


def _sklearn_dir(folder: Path, cancer: tuple[pd.DataFrame, pd.Series], **spec: Any) -> Path:
    x, y = cancer
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.skops").write_bytes(sio.dumps(LogisticRegression(max_iter=500).fit(x, y)))
    flavor = {"pickled_model": "model.skops", "serialization_format": "skops"}
    return _mlmodel(folder, {"flavors": {"sklearn": flavor}, **spec})


def _example_info(path: Any) -> dict[str, Any]:
    return {"saved_input_example_info": {"type": "dataframe", "artifact_path": path}}


@pytest.mark.parametrize(
    "reference", ["../../secret.json", "../secret.json", "/etc/passwd", ["secret.json"]]
)
def test_an_input_example_path_outside_the_model_directory_is_refused(
    reference: Any, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    (tmp_path / "secret.json").write_text('[{"password": "hunter2"}]', encoding="utf-8")
    folder = _sklearn_dir(tmp_path / "a" / "m", cancer, **_example_info(reference))
    with pytest.raises(UnsafePathError, match="input example path") as info:
        read_mlflow_model(folder)
    assert "hunter2" not in str(info.value)


def test_a_symlinked_input_example_pointing_outside_is_refused(
    cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    (tmp_path / "secret.json").write_text('[{"password": "hunter2"}]', encoding="utf-8")
    folder = _sklearn_dir(tmp_path / "m", cancer, **_example_info("example.json"))
    (folder / "example.json").symlink_to(tmp_path / "secret.json")
    with pytest.raises(UnsafePathError, match="leads outside the folder"):
        read_mlflow_model(folder)


def test_an_input_example_inside_the_directory_is_read(
    cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, _ = cancer
    folder = _sklearn_dir(tmp_path / "m", cancer, **_example_info("sub/../example.json"))
    example = {"columns": list(x.columns), "data": x.head(2).to_numpy().tolist()}
    (folder / "example.json").write_text(json.dumps(example), encoding="utf-8")
    imported = read_mlflow_model(folder)
    assert imported.input_example is not None
    assert list(imported.input_example.columns) == list(x.columns)


def test_a_model_file_path_outside_the_directory_is_refused(
    cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    _sklearn_dir(tmp_path / "elsewhere", cancer)
    folder = _mlmodel(
        tmp_path / "m",
        {
            "flavors": {
                "sklearn": {
                    "pickled_model": "../elsewhere/model.skops",
                    "serialization_format": "skops",
                }
            }
        },
    )
    with pytest.raises(UnsafePathError, match=r"model file \(pickled_model\)"):
        read_mlflow_model(folder)


# --- ONNX external data ----------------------------------------------------------------


def _onnx_dir(
    folder: Path, cancer: tuple[pd.DataFrame, pd.Series], location: str, weights_at: Path
) -> Path:
    """An MLflow ONNX directory whose weights live in an external file at ``location``."""
    x, _ = cancer
    proto = _linear_model(x.shape[1])
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(
        proto,
        str(folder / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    weights_at.parent.mkdir(parents=True, exist_ok=True)
    (folder / "weights.bin").rename(weights_at)
    stored = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    for tensor in stored.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    (folder / "model.onnx").write_bytes(stored.SerializeToString())
    return _mlmodel(folder, {"flavors": {"onnx": {"data": "model.onnx"}}})


def _linear_model(features: int) -> onnx.ModelProto:
    """``prediction = input @ weights``: one initializer, enough to hold external data."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.full((features, 1), 0.5, np.float32), "weights")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "weights"], ["prediction"])],
        "linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, features])],
        [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, [None, 1])],
        initializer=[weights],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("location", ["../weights.bin", "ABSOLUTE"])
def test_onnx_external_data_outside_the_model_directory_is_refused(
    location: str, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    weights = tmp_path / "weights.bin"
    location = str(weights) if location == "ABSOLUTE" else location
    folder = _onnx_dir(tmp_path / "m", cancer, location, weights)
    with pytest.raises(UnsafePathError, match="ONNX external data location"):
        read_mlflow_model(folder)


def test_onnx_external_data_inside_the_directory_is_inlined_and_served(
    cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    x, _ = cancer
    folder = _onnx_dir(tmp_path / "m", cancer, "data/weights.bin", tmp_path / "m/data/weights.bin")
    imported = read_mlflow_model(folder)
    flavor = get_flavor("onnx")
    (tmp_path / "stored").mkdir()
    meta = flavor.save(imported.model, tmp_path / "stored")
    predictions = flavor.load(tmp_path / "stored", meta).predict(x.head(5))
    np.testing.assert_allclose(predictions, x.head(5).sum(axis=1) * 0.5, rtol=1e-5)


def test_an_onnx_model_reading_external_files_is_never_stored(
    cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    folder = _onnx_dir(tmp_path / "m", cancer, "weights.bin", tmp_path / "m/weights.bin")
    data = (folder / "model.onnx").read_bytes()
    (tmp_path / "stored").mkdir()
    with pytest.raises(UnsafePathError, match=r"tensors read external files: weights\.bin"):
        get_flavor("onnx").save(data, tmp_path / "stored")


@pytest.mark.parametrize(
    "mlmodel",
    [
        "flavors: [1, 2]",
        "flavors:\n  sklearn: just a string\n",
        "- a list",
    ],
)
def test_malformed_mlmodel_files_are_flavor_errors(mlmodel: str, tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text(mlmodel, encoding="utf-8")
    with pytest.raises(FlavorError):
        read_mlflow_model(tmp_path)


@pytest.mark.parametrize(
    "spec",
    [
        {"signature": {"inputs": '[{"name": 1}'}},
        {"signature": {"inputs": "[1, 2]"}},
        {"signature": "text"},
        {"saved_input_example_info": 7},
    ],
)
def test_a_malformed_signature_or_example_is_a_flavor_error(
    spec: dict[str, Any], cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    with pytest.raises(FlavorError):
        read_mlflow_model(_sklearn_dir(tmp_path / "m", cancer, **spec))


def test_an_mlmodel_that_is_not_utf8_is_a_flavor_error(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_bytes(b"flavors:\n  \xff\xfe: {}\n")
    with pytest.raises(FlavorError, match="not readable YAML"):
        read_mlflow_model(tmp_path)
