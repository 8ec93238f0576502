"""Converting scikit-learn models to ONNX twins, with the reason when it cannot be done.

All-numeric models convert to one float tensor input (``input``) holding every column.
Models with string columns convert to one input per column, named after it: float for
numeric columns, string for text ones (skl2onnx's ``StringTensorType``), which covers
pipelines whose ``ColumnTransformer`` one-hot or ordinal encodes categories. A string
column's ``SimpleImputer`` that treats NaN as missing is converted as treating the empty
string as missing; :class:`OnnxPredictor` feeds missing strings as ``""`` to match.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from conveyor.registry.flavors._base import imported_class, require
from conveyor.registry.flavors._errors import FlavorError
from conveyor.registry.flavors._signature import Signature

INPUT_NAME = "input"
_NUMERIC = frozenset({"double", "long", "boolean"})
_REASON_CHARS = 300


@dataclass(frozen=True)
class OnnxConversion:
    """The result of converting a model: ONNX bytes, or why there are none.

    Attributes:
        data: The serialized ONNX model, or ``None``.
        reason: One sentence saying why ``data`` is ``None`` (``None`` when converted).
    """

    data: bytes | None
    reason: str | None = None


def convert_to_onnx(model: Any, signature: Signature) -> OnnxConversion:
    """Convert a fitted scikit-learn model to ONNX, or say why it cannot be converted.

    Args:
        model: A fitted scikit-learn estimator or pipeline.
        signature: Its signature: numeric columns, and string columns when the model
            encodes them itself (a ``ColumnTransformer`` with encoders).

    Returns:
        The conversion; ``reason`` names the obstacle (not scikit-learn, a datetime
        column, skl2onnx missing, or the converter's own message).

    Example:
        >>> from conveyor.registry.flavors import ColumnSpec
        >>> sig = Signature([ColumnSpec("x", "double")])
        >>> convert_to_onnx(object(), sig).reason
        'the model is not a scikit-learn estimator (object)'
    """
    base = imported_class("sklearn.base", "BaseEstimator")
    if base is None or not isinstance(model, base):
        return OnnxConversion(
            None, f"the model is not a scikit-learn estimator ({type(model).__name__})"
        )
    unsupported = [s for s in signature.inputs if s.type not in _NUMERIC and s.type != "string"]
    if unsupported:
        names = ", ".join(f"{s.name!r} ({s.type})" for s in unsupported)
        return OnnxConversion(None, f"ONNX twins take numeric and string columns, not {names}")
    try:
        skl2onnx = require("skl2onnx", package="skl2onnx", flavor="onnx")
        types = require("skl2onnx.common.data_types", package="skl2onnx", flavor="onnx")
    except FlavorError:
        return OnnxConversion(None, "skl2onnx is not installed (pip install skl2onnx)")
    if signature.numeric:
        target = model
        initial = [(INPUT_NAME, types.FloatTensorType([None, len(signature.inputs)]))]
    else:
        target = _string_missing_as_empty(copy.deepcopy(model))
        initial = [
            (
                spec.name,
                types.StringTensorType([None, 1])
                if spec.type == "string"
                else types.FloatTensorType([None, 1]),
            )
            for spec in signature.inputs
        ]
    final = target.steps[-1][1] if hasattr(target, "steps") else target
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    try:
        proto = skl2onnx.to_onnx(target, initial_types=initial, options=options)
    except Exception as exc:  # noqa: BLE001 - skl2onnx signals "unsupported" in many ways
        detail = " ".join(str(exc).split())[:_REASON_CHARS] or type(exc).__name__
        return OnnxConversion(None, f"skl2onnx cannot convert {type(model).__name__}: {detail}")
    return OnnxConversion(bytes(proto.SerializeToString()))


def to_onnx(model: Any, signature: Signature, input_example: Any = None) -> bytes | None:
    """Convert a scikit-learn model to ONNX, or ``None`` when it cannot be converted.

    :func:`convert_to_onnx` also says why.

    Args:
        model: A fitted scikit-learn estimator or pipeline.
        signature: Its signature (numeric and string columns).
        input_example: Unused by the converter; accepted for symmetry with registration.

    Returns:
        The serialized ONNX model, or ``None``.
    """
    del input_example
    return convert_to_onnx(model, signature).data


def _string_missing_as_empty(estimator: Any) -> Any:
    """Make string imputers that treat NaN as missing treat ``""`` as missing (in place)."""
    imputer = imported_class("sklearn.impute", "SimpleImputer")
    if imputer is not None and isinstance(estimator, imputer):
        statistics = getattr(estimator, "statistics_", None)
        missing = getattr(estimator, "missing_values", None)
        if statistics is not None and statistics.dtype == object and not isinstance(missing, str):
            setattr(estimator, "missing_values", "")  # noqa: B010 - narrowed to object
    for _, step in getattr(estimator, "steps", None) or []:
        _string_missing_as_empty(step)
    for entry in getattr(estimator, "transformers_", None) or []:
        if hasattr(entry[1], "fit"):
            _string_missing_as_empty(entry[1])
    return estimator
