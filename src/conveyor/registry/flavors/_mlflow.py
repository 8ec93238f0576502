"""Import a model directory written by MLflow (its ``MLmodel`` file) as a model version.

Supported MLflow flavors: ``onnx``, ``xgboost``, ``lightgbm``, ``sklearn`` and
``pytorch``. Native and skops files load without trust; pickled models (MLflow's
``pickle``/``cloudpickle`` serialization, pickled LightGBM wrappers, whole pickled torch
modules) are refused unless ``trusted=True``, and are then loaded once and re-registered
in a safe conveyor flavor, so they are never unpickled again at serve time. The MLflow
signature and input example are carried over.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
import yaml

from conveyor.registry.flavors._base import import_class, require
from conveyor.registry.flavors._errors import FlavorError, UntrustedModelError
from conveyor.registry.flavors._signature import ColumnSpec, ColumnType, Signature
from conveyor.registry.flavors._sklearn import load_estimator

V_co = TypeVar("V_co", covariant=True)
_TYPES: dict[str, ColumnType] = {
    "double": "double",
    "float": "double",
    "long": "long",
    "integer": "long",
    "boolean": "boolean",
    "string": "string",
    "datetime": "datetime",
}


class Registering(Protocol[V_co]):
    """What :func:`import_mlflow_model` needs from the registry."""

    def register(self, name: str, model: Any, **kwargs: Any) -> V_co:
        """Register ``model`` as a new version of ``name``."""
        ...


@dataclass(frozen=True)
class MlflowModel:
    """A model read from an MLflow directory, ready to register.

    Attributes:
        model: The live model object.
        flavor: The conveyor flavor to store it with.
        source_flavor: The MLflow flavor it came from.
        signature: The MLflow signature, when it is column-based.
        input_example: The saved input example, when it is a table.
        info: Provenance: MLflow version, run id, model uuid, the path.
    """

    model: Any
    flavor: str
    source_flavor: str
    signature: Signature | None
    input_example: pd.DataFrame | None
    info: dict[str, Any] = field(default_factory=dict)


def import_mlflow_model(
    registry: Registering[V_co], path: str | Path, name: str, *, trusted: bool = False
) -> V_co:
    """Register the MLflow model at ``path`` as a new version of ``name``.

    Args:
        registry: The model registry (``ws.models``).
        path: A directory holding an ``MLmodel`` file.
        name: The conveyor model name.
        trusted: Allow unpickling a pickled model once (only for files you trust).

    Returns:
        The new model version.

    Raises:
        UntrustedModelError: The model is pickled and ``trusted`` is false.
        FlavorError: No supported flavor, or the files cannot be read.
    """
    imported = read_mlflow_model(path, trusted=trusted)
    tags = {"imported_from": "mlflow", "mlflow_flavor": imported.source_flavor}
    tags.update({f"mlflow_{k}": str(v) for k, v in imported.info.items() if v is not None})
    return registry.register(
        name,
        imported.model,
        input_example=imported.input_example,
        signature=imported.signature,
        flavor=imported.flavor,
        tags=tags,
        description=f"Imported from the MLflow model at {imported.info['path']}.",
    )


def read_mlflow_model(path: str | Path, *, trusted: bool = False) -> MlflowModel:
    """Read the model, signature and input example of an MLflow model directory."""
    root = Path(path)
    spec = _read_mlmodel(root)
    flavors: dict[str, Any] = spec.get("flavors") or {}
    source = next((name for name in _LOADERS if name in flavors), None)
    if source is None:
        raise FlavorError(
            f"The MLflow model at {root} has no flavor conveyor can import "
            f"(it has: {', '.join(sorted(flavors)) or 'none'}).",
            hint=f"Supported MLflow flavors: {', '.join(_LOADERS)}.",
            path=str(root),
        )
    flavor, loader = _LOADERS[source]
    model = loader(root, flavors[source] or {}, trusted)
    info = {
        "path": str(root),
        "version": spec.get("mlflow_version"),
        "run_id": spec.get("run_id"),
        "model_uuid": spec.get("model_uuid"),
    }
    return MlflowModel(model, flavor, source, _signature(spec), _input_example(root, spec), info)


def _read_mlmodel(root: Path) -> dict[str, Any]:
    mlmodel = root / "MLmodel"
    try:
        data = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FlavorError(
            f"{root} is not an MLflow model directory: it has no MLmodel file.",
            hint="Pass the folder written by mlflow.<flavor>.save_model (or a downloaded "
            "model artifact).",
            path=str(root),
        ) from exc
    except yaml.YAMLError as exc:
        raise FlavorError(
            f"{mlmodel} is not valid YAML: {exc}.",
            hint="The MLflow model directory is damaged; save the model again.",
            path=str(mlmodel),
        ) from exc
    if not isinstance(data, dict):
        raise FlavorError(
            f"{mlmodel} does not describe a model.",
            hint="The MLflow model directory is damaged; save the model again.",
            path=str(mlmodel),
        )
    return data


def _signature(spec: dict[str, Any]) -> Signature | None:
    signature = spec.get("signature") or {}
    inputs = _columns(signature.get("inputs"), "input")
    if not inputs:
        return None
    return Signature(inputs, _columns(signature.get("outputs"), "prediction") or None)


def _columns(text: Any, default: str) -> list[ColumnSpec]:
    """MLflow column specs (a JSON string); tensor specs are not columns and give []."""
    if not text:
        return []
    items = json.loads(text) if isinstance(text, str) else text
    columns = []
    for index, item in enumerate(items):
        kind = _TYPES.get(str(item.get("type")))
        if kind is None:
            return []
        name = item.get("name") or (default if len(items) == 1 else f"{default}_{index}")
        columns.append(ColumnSpec(str(name), kind, not item.get("required", True)))
    return columns


def _input_example(root: Path, spec: dict[str, Any]) -> pd.DataFrame | None:
    info = spec.get("saved_input_example_info") or {}
    if info.get("type") != "dataframe" or not info.get("artifact_path"):
        return None
    data = json.loads((root / str(info["artifact_path"])).read_text(encoding="utf-8"))
    if isinstance(data, dict) and "dataframe_split" in data:
        data = data["dataframe_split"]
    if isinstance(data, dict) and "columns" in data and "data" in data:
        return pd.DataFrame(data["data"], columns=data["columns"])
    if isinstance(data, list):
        return pd.DataFrame(data)
    return None


def _require_trust(what: str, trusted: bool) -> None:
    if not trusted:
        raise UntrustedModelError(
            f"Refusing to import {what}: it is a pickle, and unpickling runs code chosen by "
            "whoever wrote it.",
            hint="Nothing was loaded. If you trust the file's author, import it with "
            "trusted=True (`--trusted`): it is loaded once and stored in a safe format.",
        )


def _unpickle(path: Path) -> Any:
    with path.open("rb") as handle:
        return pickle.load(handle)  # noqa: S301 - only after _require_trust


def _load_sklearn(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    path = root / str(flavor.get("pickled_model", "model.pkl"))
    if flavor.get("serialization_format") == "skops":
        return load_estimator(path)
    _require_trust(f"the scikit-learn model {path.name}", trusted)
    return _unpickle(path)


def _load_xgboost(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    xgb = require("xgboost", package="xgboost", flavor="xgboost")
    cls = _dotted_class(str(flavor.get("model_class", "xgboost.core.Booster")), "xgboost")
    if not issubclass(cls, (xgb.Booster, xgb.XGBModel)):
        raise FlavorError(
            f"The MLmodel file names {flavor.get('model_class')!r}, not an XGBoost model class.",
            hint="Save the model again with mlflow.xgboost.save_model.",
            flavor="xgboost",
        )
    model = cls()
    model.load_model(str(root / str(flavor.get("data", "model.xgb"))))
    return model


def _load_lightgbm(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    lgb = require("lightgbm", package="lightgbm", flavor="lightgbm")
    path = root / str(flavor.get("data", "model.lgb"))
    if path.suffix == ".pkl":
        _require_trust(f"the LightGBM model {path.name}", trusted)
        return _unpickle(path)
    return lgb.Booster(model_file=str(path))


def _load_onnx(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    return (root / str(flavor.get("data", "model.onnx"))).read_bytes()


def _load_pytorch(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    torch = require("torch", package="torch", flavor="pytorch")
    folder = root / str(flavor.get("model_data", "data"))
    path = folder / "model.pth" if folder.is_dir() else folder
    _require_trust(f"the PyTorch model {path.name}", trusted)
    return torch.load(path, map_location="cpu", weights_only=False)  # trusted only


def _dotted_class(dotted: str, flavor: str) -> type:
    module, _, attr = dotted.rpartition(".")
    return import_class(f"{module}:{attr}", flavor=flavor)


_Loader = Callable[[Path, dict[str, Any], bool], Any]
# MLflow flavor -> (conveyor flavor, loader), most specific first.
_LOADERS: dict[str, tuple[str, _Loader]] = {
    "onnx": ("onnx", _load_onnx),
    "xgboost": ("xgboost", _load_xgboost),
    "lightgbm": ("lightgbm", _load_lightgbm),
    "sklearn": ("sklearn", _load_sklearn),
    "pytorch": ("pytorch", _load_pytorch),
}
