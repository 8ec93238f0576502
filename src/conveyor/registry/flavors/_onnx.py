"""ONNX models served by onnxruntime, and the parity check of ONNX twins.

Twins are converted by :mod:`._onnx_convert` (classifiers without ZipMap, so outputs are
plain label and probability arrays). The twin is only worth serving when it predicts what
the original does: :func:`parity` compares both on the rows given and records the largest
difference.

A stored ONNX model is one self-contained file: tensors whose data lives in external
files are refused (onnxruntime would read them from wherever their location points).
The MLflow importer inlines external data with :func:`inline_external_data`, which reads
only locations that resolve inside the model directory.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from conveyor.core import UnsafePathError, resolve_inside
from conveyor.registry.flavors._base import Flavor, Predictor, imported_class, require
from conveyor.registry.flavors._errors import FlavorError
from conveyor.registry.flavors._signature import Signature, example_frame

if TYPE_CHECKING:
    import pandas as pd

MODEL_FILE = "model.onnx"
_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.str_,
}


class OnnxPredictor:
    """An onnxruntime session. One input takes all columns as one 2-D tensor; several
    inputs are fed one column each, by name. The first output is the prediction; a
    second 2-D output, when present, the class probabilities."""

    def __init__(self, model_bytes: bytes, *, threads: int = 1) -> None:
        ort = require("onnxruntime", package="onnxruntime", flavor="onnx")
        _refuse_external_data(model_bytes)
        options = ort.SessionOptions()
        # One thread: single rows are the common case, and servers run one worker per core.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise FlavorError(
                f"onnxruntime cannot load the ONNX model: {exc}.",
                hint="Check the model with onnx.checker.check_model, or register it again.",
                flavor="onnx",
            ) from exc
        self.model = model_bytes
        self._inputs = [
            (i.name, _NUMPY_TYPES.get(i.type, np.float32)) for i in self.session.get_inputs()
        ]
        self._outputs = [o.name for o in self.session.get_outputs()]
        if len(self._outputs) > 1:
            self.predict_proba = self._predict_proba
            self.predict_proba_array = self._predict_proba_array

    def _run(self, names: list[str], feed: dict[str, np.ndarray[Any, Any]]) -> list[Any]:
        return list(self.session.run(names, feed))

    def _feed_frame(self, frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        if len(self._inputs) == 1:
            name, dtype = self._inputs[0]
            return {name: frame.to_numpy(dtype=dtype)}
        return {name: _column(frame[name], dtype) for name, dtype in self._inputs}

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The first output for ``frame`` (a single column flattened)."""
        return _flat(self._run(self._outputs[:1], self._feed_frame(frame))[0])

    def _predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(self._run(self._outputs[1:2], self._feed_frame(frame))[0])

    def _predict_proba_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        # Class probabilities for a 2-D array in signature column order (no DataFrame).
        if len(self._inputs) != 1:
            import pandas as pd

            names = [name for name, _ in self._inputs]
            return self._predict_proba(pd.DataFrame(x, columns=names))
        name, dtype = self._inputs[0]
        return np.asarray(self._run(self._outputs[1:2], {name: np.asarray(x, dtype=dtype)})[0])

    def predict_array(self, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """The first output for a 2-D array in signature column order."""
        if len(self._inputs) != 1:
            import pandas as pd

            names = [name for name, _ in self._inputs]
            return self.predict(pd.DataFrame(x, columns=names))
        name, dtype = self._inputs[0]
        return _flat(self._run(self._outputs[:1], {name: np.asarray(x, dtype=dtype)})[0])


def _column(series: pd.Series, dtype: Any) -> np.ndarray[Any, Any]:
    if dtype is np.str_:  # a missing string is fed as "" (see _onnx_convert)
        series = series.astype(object).where(series.notna(), "")
    elif dtype in (np.float32, np.float64):  # nullable columns: NA becomes NaN
        return series.to_numpy(dtype=dtype, na_value=np.nan).reshape(-1, 1)
    return series.to_numpy(dtype=dtype).reshape(-1, 1)


def _flat(result: Any) -> np.ndarray[Any, Any]:
    array = np.asarray(result)
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    return array


class OnnxFlavor(Flavor):
    """An ``onnx.ModelProto`` or its serialized bytes."""

    name: ClassVar[str] = "onnx"

    @classmethod
    def handles(cls, model: Any) -> bool:
        proto = imported_class("onnx", "ModelProto")
        if proto is not None and isinstance(model, proto):
            return True
        return isinstance(model, bytes) and _parses_as_onnx(model)

    def save(self, model: Any, folder: Path) -> dict[str, Any]:
        data = model if isinstance(model, bytes) else model.SerializeToString()
        OnnxPredictor(data)  # refuse a model onnxruntime cannot run before storing it
        (folder / MODEL_FILE).write_bytes(data)
        return {"file": MODEL_FILE}

    def load(self, folder: Path, meta: dict[str, Any], *, trusted: bool = False) -> Predictor:
        return OnnxPredictor((folder / str(meta.get("file", MODEL_FILE))).read_bytes())


#: Largest total of external tensor data inlined into one model (protobuf's own limit).
MAX_INLINE_BYTES = (2 << 30) - 1


def _parse(data: bytes) -> Any:
    onnx = require("onnx", package="onnx", flavor="onnx")
    try:
        return onnx.load_from_string(data)
    except Exception as exc:  # protobuf's DecodeError has no stable import path
        raise FlavorError(
            f"The ONNX model cannot be parsed: {exc or type(exc).__name__}.",
            hint="Check the file with onnx.checker.check_model, or export the model again.",
            flavor="onnx",
        ) from exc


def _external_tensors(proto: Any) -> list[Any]:
    from onnx import TensorProto
    from onnx.external_data_helper import _get_all_tensors

    return [t for t in _get_all_tensors(proto) if t.data_location == TensorProto.EXTERNAL]


def _refuse_external_data(data: bytes) -> None:
    """Refuse a model whose tensors point at external files (checked when onnx is installed)."""
    if importlib.util.find_spec("onnx") is None:
        return
    tensors = _external_tensors(_parse(data))
    if tensors:
        locations = sorted({_external_info(t).get("location", "") for t in tensors})
        raise UnsafePathError(
            f"Refusing an ONNX model whose tensors read external files: {', '.join(locations)}.",
            hint="Save the model with its weights inside the file "
            "(onnx.save_model(model, path, save_as_external_data=False)).",
            flavor="onnx",
            path=locations[0],
        )


def _external_info(tensor: Any) -> dict[str, str]:
    return {entry.key: entry.value for entry in tensor.external_data}


def inline_external_data(data: bytes, base: Path, *, root: Path) -> bytes:
    """``data`` with every external tensor read in, from locations inside ``root`` only.

    Args:
        data: A serialized ONNX model.
        base: The folder of the model file; locations are relative to it.
        root: The folder no location may leave (the model directory; ``base`` is in it).

    Returns:
        A self-contained serialized model (``data`` itself when nothing is external).

    Raises:
        conveyor.core.UnsafePathError: A location is absolute or leads outside ``root``.
        FlavorError: The model cannot be parsed, or external data is missing, out of
            bounds, or larger than :data:`MAX_INLINE_BYTES` in total.
    """
    proto = _parse(data)
    tensors = _external_tensors(proto)
    if not tensors:
        return data
    if not base.resolve().is_relative_to(root.resolve()):
        raise UnsafePathError(
            f"Refusing ONNX external data: the model file's folder {base} is outside {root}.",
            hint="The model directory was crafted; do not import it.",
            path=str(base),
        )
    from onnx import TensorProto

    total = 0
    for tensor in tensors:
        info = _external_info(tensor)
        path = resolve_inside(base, info.get("location"), what="the ONNX external data location")
        try:
            offset, length = int(info.get("offset", 0)), info.get("length")
            size = path.stat().st_size
            count = size - offset if length is None else int(length)
            if offset < 0 or count < 0 or offset + count > size:
                raise ValueError(f"offset {offset} and length {count} exceed {size} bytes")
            total += count
            if total > MAX_INLINE_BYTES:
                raise ValueError(f"more than {MAX_INLINE_BYTES} bytes of external data")
            with path.open("rb") as handle:
                handle.seek(offset)
                raw = handle.read(count)
        except (OSError, ValueError) as exc:
            raise FlavorError(
                f"The ONNX external data {info.get('location')!r} cannot be read: {exc}.",
                hint="The model directory is incomplete or damaged; export the model again.",
                flavor="onnx",
            ) from exc
        del tensor.external_data[:]
        tensor.data_location = TensorProto.DEFAULT
        tensor.raw_data = raw
    return bytes(proto.SerializeToString())


def _parses_as_onnx(data: bytes) -> bool:
    try:
        onnx = require("onnx", package="onnx", flavor="onnx")
        proto = onnx.load_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError has no stable import path
        return False
    return len(proto.graph.node) > 0


@dataclass(frozen=True)
class ParityResult:
    """Whether the ONNX twin predicts what the original does, on ``rows`` rows.

    ``max_abs_diff`` is the largest absolute difference of probabilities (classifiers)
    or predictions (regressors); ``passed`` also requires equal predicted labels.
    """

    passed: bool
    max_abs_diff: float
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"passed": self.passed, "max_abs_diff": self.max_abs_diff, "rows": self.rows}


def parity(
    reference: Predictor, candidate: Predictor, frame: pd.DataFrame, *, tolerance: float = 1e-5
) -> ParityResult:
    """Compare two predictors on ``frame``.

    Labels must be equal. Probabilities must agree within ``tolerance``; regression
    outputs within ``tolerance`` relative to their magnitude (float32 keeps ~7 digits).
    """
    expected = np.asarray(reference.predict(frame))
    got = np.asarray(candidate.predict(frame))
    ref_proba = getattr(reference, "predict_proba", None)
    cand_proba = getattr(candidate, "predict_proba", None)
    if expected.shape != got.shape:
        return ParityResult(False, float("inf"), len(frame))
    if callable(ref_proba) and callable(cand_proba):
        same_labels = expected.astype(str).tolist() == got.astype(str).tolist()
        p_ref, p_cand = np.asarray(ref_proba(frame), float), np.asarray(cand_proba(frame), float)
        if p_ref.shape != p_cand.shape:
            return ParityResult(False, float("inf"), len(frame))
        diff = float(np.max(np.abs(p_ref - p_cand), initial=0.0))
        return ParityResult(same_labels and diff <= tolerance, diff, len(frame))
    try:
        a, b = expected.astype(float), got.astype(float)
    except (TypeError, ValueError):
        same = expected.astype(str).tolist() == got.astype(str).tolist()
        return ParityResult(same, 0.0 if same else float("inf"), len(frame))
    diff = float(np.max(np.abs(a - b), initial=0.0))
    scaled = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a)), initial=0.0))
    return ParityResult(bool(scaled <= tolerance), diff, len(frame))


def parity_frame(
    input_example: Any, signature: Signature, *, rows: int = 200, seed: int = 0
) -> pd.DataFrame:
    """The example's rows plus synthetic ones drawn around them, up to ``rows`` in all.

    Synthetic rows resample the example's rows and move each double column by noise of a
    tenth of its spread, so the check covers more than the literal example.
    """
    import pandas as pd

    frame = signature.validate(example_frame(input_example), check_nulls=False)
    if len(frame) == 0 or len(frame) >= rows:
        return frame.head(rows).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    extra = frame.iloc[rng.integers(0, len(frame), rows - len(frame))].reset_index(drop=True)
    for spec in signature.inputs:
        if spec.type == "double":
            column = frame[spec.name].astype(float)
            spread = float(column.std(ddof=0)) if len(column) > 1 else 0.0
            spread = spread or max(abs(float(column.mean())), 1.0) * 0.1
            extra[spec.name] = extra[spec.name] + rng.normal(0.0, spread * 0.1, len(extra))
    return pd.concat([frame, extra], ignore_index=True)
