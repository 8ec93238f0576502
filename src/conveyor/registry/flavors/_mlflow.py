"""Import a model directory written by MLflow (its ``MLmodel`` file) as a model version.

Supported MLflow flavors: ``onnx``, ``xgboost``, ``lightgbm``, ``sklearn`` and
``pytorch``. Native and skops files load without trust; pickled models (MLflow's
``pickle``/``cloudpickle`` serialization, pickled LightGBM wrappers, whole pickled torch
modules) are refused unless ``trusted=True``, and are then loaded once and re-registered
in a safe conveyor flavor, so they are never unpickled again at serve time. The MLflow
signature and input example are carried over.

A model directory is untrusted input. Every path its ``MLmodel`` names (model files, the
input example, ONNX external data) is resolved inside the directory, symlinks included
(:func:`conveyor.core.resolve_inside`); class paths (``xgboost.model_class`` ...) are
checked against the flavor's exact list before anything is imported; skops files go
through the load policy. Anything malformed is a :class:`FlavorError`.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import yaml

from conveyor.core import (
    LIGHTGBM_CLASSES,
    XGBOOST_CLASSES,
    UntrustedContentError,
    check_class_path,
    resolve_inside,
)
from conveyor.registry.flavors._base import import_class, require
from conveyor.registry.flavors._errors import FlavorError, UntrustedModelError
from conveyor.registry.flavors._onnx import inline_external_data
from conveyor.registry.flavors._signature import ColumnSpec, ColumnType, Signature
from conveyor.registry.flavors._sklearn import load_estimator

if TYPE_CHECKING:
    import pandas as pd

V_co = TypeVar("V_co", covariant=True)
#: An MLmodel file is a few kilobytes; anything far larger is not one.
MAX_MLMODEL_BYTES = 1 << 20
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
    """Read the model, signature and input example of an MLflow model directory.

    Args:
        path: A directory holding an ``MLmodel`` file.
        trusted: Allow unpickling a pickled model (only for files you trust).

    Returns:
        The model, ready to register.

    Raises:
        UntrustedModelError: The model is pickled and ``trusted`` is false, a class path
            is not one the flavor allows, or a skops file names untrusted types.
        conveyor.core.UnsafePathError: A path in ``MLmodel`` leads outside ``path``.
        conveyor.core.ArchiveLimitError: A model archive would inflate past its limits.
        FlavorError: No supported flavor, or the directory is malformed or unreadable.
    """
    root = Path(path)
    spec = _read_mlmodel(root)
    flavors = _mapping(spec.get("flavors"), "flavors", root)
    source = next((name for name in _LOADERS if name in flavors), None)
    if source is None:
        raise FlavorError(
            f"The MLflow model at {root} has no flavor conveyor can import "
            f"(it has: {', '.join(sorted(flavors)) or 'none'}).",
            hint=f"Supported MLflow flavors: {', '.join(_LOADERS)}.",
            path=str(root),
        )
    flavor, loader = _LOADERS[source]
    try:
        model = loader(root, _mapping(flavors[source], source, root), trusted)
    except UntrustedContentError as exc:
        if isinstance(exc, UntrustedModelError):
            raise
        raise UntrustedModelError(
            exc.message, hint=exc.hint, flavor=flavor, types=exc.fields.get("types", [])
        ) from exc
    info = {
        "path": str(root),
        "version": spec.get("mlflow_version"),
        "run_id": spec.get("run_id"),
        "model_uuid": spec.get("model_uuid"),
    }
    return MlflowModel(
        model, flavor, source, _signature(spec, root), _input_example(root, spec), info
    )


def _mapping(value: Any, key: str, root: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(root, f"{key!r} is a {type(value).__name__}, not a mapping")
    return value


def _malformed(root: Path, problem: str) -> FlavorError:
    return FlavorError(
        f"The MLmodel file in {root} is malformed: {problem}.",
        hint="The MLflow model directory is damaged or was not written by MLflow; save "
        "the model again.",
        path=str(root),
    )


def _read_mlmodel(root: Path) -> dict[str, Any]:
    mlmodel = root / "MLmodel"
    try:
        if mlmodel.is_file() and mlmodel.stat().st_size > MAX_MLMODEL_BYTES:
            raise _malformed(root, f"it is larger than {MAX_MLMODEL_BYTES} bytes")
        data = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FlavorError(
            f"{root} is not an MLflow model directory: it has no MLmodel file.",
            hint="Pass the folder written by mlflow.<flavor>.save_model (or a downloaded "
            "model artifact).",
            path=str(root),
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError, OSError, RecursionError, ValueError) as exc:
        raise FlavorError(
            f"{mlmodel} is not readable YAML: {exc}.",
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


def _signature(spec: dict[str, Any], root: Path) -> Signature | None:
    signature = _mapping(spec.get("signature"), "signature", root)
    try:
        inputs = _columns(signature.get("inputs"), "input")
        if not inputs:
            return None
        return Signature(inputs, _columns(signature.get("outputs"), "prediction") or None)
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise _malformed(root, f"its signature cannot be read ({exc})") from exc


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
    import pandas as pd

    info = _mapping(spec.get("saved_input_example_info"), "saved_input_example_info", root)
    if info.get("type") != "dataframe" or not info.get("artifact_path"):
        return None
    path = resolve_inside(root, info["artifact_path"], what="the input example path")
    try:
        if path.stat().st_size > MAX_MLMODEL_BYTES * 16:
            raise _malformed(root, f"the input example {path.name} is too large")
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "dataframe_split" in data:
            data = data["dataframe_split"]
        if isinstance(data, dict) and "columns" in data and "data" in data:
            return pd.DataFrame(data["data"], columns=data["columns"])
        if isinstance(data, list):
            return pd.DataFrame(data)
    except (OSError, ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        raise _malformed(root, f"its input example cannot be read ({exc})") from exc
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


def _file(root: Path, flavor: dict[str, Any], key: str, default: str) -> Path:
    return resolve_inside(root, flavor.get(key, default), what=f"the model file ({key})")


def _load_sklearn(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    path = _file(root, flavor, "pickled_model", "model.pkl")
    if flavor.get("serialization_format") == "skops":
        return load_estimator(path, trusted=trusted)
    _require_trust(f"the scikit-learn model {path.name}", trusted)
    return _unpickle(path)


def _load_xgboost(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    # Checked before anything is imported: a class path names a module to import.
    allowed = check_class_path(
        flavor.get("model_class", "xgboost.core.Booster"),
        XGBOOST_CLASSES,
        what="the xgboost.model_class of MLmodel",
    )
    path = _file(root, flavor, "data", "model.xgb")
    xgb = require("xgboost", package="xgboost", flavor="xgboost")
    model = import_class(allowed, flavor="xgboost")()
    try:
        model.load_model(str(path))
    except (xgb.core.XGBoostError, OSError, ValueError) as exc:
        raise FlavorError(
            f"XGBoost cannot read the model file {path.name}: {exc}.",
            hint="The MLflow model directory is damaged; save the model again.",
            flavor="xgboost",
        ) from exc
    return model


def _load_lightgbm(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    if "model_class" in flavor:
        check_class_path(
            flavor["model_class"], LIGHTGBM_CLASSES, what="the lightgbm.model_class of MLmodel"
        )
    path = _file(root, flavor, "data", "model.lgb")
    if path.suffix == ".pkl":
        _require_trust(f"the LightGBM model {path.name}", trusted)
        return _unpickle(path)
    lgb = require("lightgbm", package="lightgbm", flavor="lightgbm")
    try:
        return lgb.Booster(model_file=str(path))
    except (lgb.basic.LightGBMError, OSError, ValueError) as exc:
        raise FlavorError(
            f"LightGBM cannot read the model file {path.name}: {exc}.",
            hint="The MLflow model directory is damaged; save the model again.",
            flavor="lightgbm",
        ) from exc


def _load_onnx(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    path = _file(root, flavor, "data", "model.onnx")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _malformed(root, f"the ONNX file cannot be read ({exc})") from exc
    return inline_external_data(data, path.parent, root=root)


def _load_pytorch(root: Path, flavor: dict[str, Any], trusted: bool) -> Any:
    path = _file(root, flavor, "model_data", "data")
    if path.is_dir():
        path = resolve_inside(path, "model.pth", what="the PyTorch model file")
    _require_trust(f"the PyTorch model {path.name}", trusted)
    torch = require("torch", package="torch", flavor="pytorch")
    return torch.load(path, map_location="cpu", weights_only=False)  # trusted only


_Loader = Callable[[Path, dict[str, Any], bool], Any]
# MLflow flavor -> (conveyor flavor, loader), most specific first.
_LOADERS: dict[str, tuple[str, _Loader]] = {
    "onnx": ("onnx", _load_onnx),
    "xgboost": ("xgboost", _load_xgboost),
    "lightgbm": ("lightgbm", _load_lightgbm),
    "sklearn": ("sklearn", _load_sklearn),
    "pytorch": ("pytorch", _load_pytorch),
}
