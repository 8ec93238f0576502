"""Model signatures: the input columns and types a model expects, and what it returns.

Types are inferred from pandas dtypes of an input example. ``Signature.validate`` is the
server's gate: it returns the frame in signature order with signature types, accepting
integers for doubles but never numeric strings, and raises :class:`SignatureError` with
the missing columns or the offending column and value.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from conveyor.registry.flavors._errors import SignatureError

if TYPE_CHECKING:
    import pandas as pd

ColumnType = Literal["double", "long", "boolean", "string", "datetime"]
COLUMN_TYPES: tuple[str, ...] = ("double", "long", "boolean", "string", "datetime")
ExtraPolicy = Literal["ignore", "reject"]
_WANTED = {
    "double": "a number",
    "long": "an integer",
    "boolean": "true or false",
    "string": "a string",
    "datetime": "an ISO 8601 datetime",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name, type, whether it may hold missing values, and whether it
    holds personal data.

    A ``pii`` column is kept out of the stored input example and hashed or left out of
    the prediction log (``predictions.pii.policy``), like the configured
    ``predictions.pii.columns``.
    """

    name: str
    type: ColumnType
    nullable: bool = False
    pii: bool = False

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise SignatureError(
                f"Unknown column type {self.type!r} for column {self.name!r}.",
                hint=f"Use one of: {', '.join(COLUMN_TYPES)}.",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"name", "type", "nullable"}``, plus ``"pii": true`` only when set
        (so signatures stored before the flag existed keep their bytes and hashes)."""
        data: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.pii:
            data["pii"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(data["name"]),
            data["type"],
            bool(data.get("nullable", False)),
            data.get("pii") is True,
        )


@dataclass(frozen=True)
class Signature:
    """Inputs (and, when known, outputs) of a model.

    Example:
        >>> sig = infer_signature({"x": [1.5, 2.0], "n": [1, 2]})
        >>> [(c.name, c.type) for c in sig.inputs]
        [('x', 'double'), ('n', 'long')]
        >>> Signature.from_dict(sig.to_dict()) == sig
        True
    """

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] | None = None

    def __init__(
        self, inputs: Sequence[ColumnSpec], outputs: Sequence[ColumnSpec] | None = None
    ) -> None:
        object.__setattr__(self, "inputs", tuple(inputs))
        object.__setattr__(self, "outputs", None if outputs is None else tuple(outputs))

    @property
    def columns(self) -> list[str]:
        """Input column names in order."""
        return [column.name for column in self.inputs]

    @property
    def pii_columns(self) -> list[str]:
        """Input columns flagged as personal data, in order."""
        return [column.name for column in self.inputs if column.pii]

    def with_pii(self, columns: Iterable[str]) -> Signature:
        """This signature with ``columns`` (also) flagged as personal data.

        Raises:
            SignatureError: A name is not an input column (``unknown`` lists them).

        Example:
            >>> sig = infer_signature({"email": ["a@b.c"], "age": [41]}).with_pii(["email"])
            >>> sig.pii_columns
            ['email']
        """
        wanted = list(dict.fromkeys(str(name) for name in columns))
        unknown = [name for name in wanted if name not in self.columns]
        if unknown:
            raise SignatureError(
                f"Cannot mark {', '.join(map(repr, unknown))} as personal data: not an input "
                f"column of the signature (its columns: {', '.join(self.columns) or 'none'}).",
                hint="Pass pii= names of columns of the input example, spelled as they are.",
                unknown=unknown,
                columns=self.columns,
            )
        marked = [
            dataclasses.replace(column, pii=True) if column.name in wanted else column
            for column in self.inputs
        ]
        return Signature(marked, self.outputs)

    @property
    def numeric(self) -> bool:
        """Whether every input is a double, long or boolean (one float tensor fits all)."""
        return all(column.type in ("double", "long", "boolean") for column in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``{"inputs": [...], "outputs": [...] | None}``."""
        return {
            "inputs": [column.to_dict() for column in self.inputs],
            "outputs": None if self.outputs is None else [c.to_dict() for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Inverse of :meth:`to_dict`."""
        outputs = data.get("outputs")
        return cls(
            [ColumnSpec.from_dict(item) for item in data["inputs"]],
            None if outputs is None else [ColumnSpec.from_dict(item) for item in outputs],
        )

    def validate(
        self, frame: pd.DataFrame, *, extra: ExtraPolicy = "ignore", check_nulls: bool = True
    ) -> pd.DataFrame:
        """Return ``frame`` as the model expects it: signature columns, order and types.

        Args:
            frame: Input rows (for example from a JSON request).
            extra: ``"ignore"`` drops columns the signature does not know; ``"reject"``
                raises for them.
            check_nulls: Refuse missing values (None, NaN) in columns not nullable. A
                server whose NaN policy admits them passes ``False``.

        Returns:
            A new frame with exactly the signature's columns.

        Raises:
            SignatureError: ``missing`` lists absent columns, ``extra`` unknown ones, or
                ``column``/``value`` name the first wrongly typed value.
        """
        import pandas as pd

        names = self.columns
        present = set(map(str, frame.columns))
        missing = [name for name in names if name not in present]
        unknown = sorted(present.difference(names)) if extra == "reject" else []
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing column(s): {', '.join(missing)}")
            if unknown:
                parts.append(f"unexpected column(s): {', '.join(unknown)}")
            raise SignatureError(
                f"Input does not match the model signature: {'; '.join(parts)}.",
                hint=f"Send exactly these columns: {', '.join(names)}.",
                missing=missing,
                extra=unknown,
            )
        data = {spec.name: _coerce(frame[spec.name], spec, check_nulls) for spec in self.inputs}
        return pd.DataFrame(data, index=range(len(frame)), columns=names)


def example_frame(input_example: Any) -> pd.DataFrame:
    """An input example as a frame: a DataFrame, ``{column: [values]}``, one row as
    ``{column: value}``, or a list of row dicts.

    Raises:
        SignatureError: The example has none of these shapes.
    """
    import pandas as pd

    if isinstance(input_example, pd.DataFrame):
        return input_example
    if isinstance(input_example, Mapping):
        values = list(input_example.values())
        if values and all(isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in values):
            return pd.DataFrame({str(k): list(v) for k, v in input_example.items()})
        return pd.DataFrame([{str(k): v for k, v in input_example.items()}])
    rows = isinstance(input_example, Sequence) and not isinstance(input_example, (str, bytes))
    if rows and all(isinstance(row, Mapping) for row in input_example):
        return pd.DataFrame([dict(row) for row in input_example])
    raise SignatureError(
        f"Cannot read an input example of type {type(input_example).__name__}.",
        hint="Pass a pandas DataFrame, a dict of column lists, or a list of row dicts.",
    )


def infer_signature(input_example: Any, model: Any = None) -> Signature:
    """Infer a signature from an input example (and outputs from ``model.predict``).

    Args:
        input_example: A DataFrame, ``{column: [values]}``, a row dict or a list of them.
        model: Optional; when it has ``predict``, its output on the example gives the
            output columns.

    Returns:
        The inferred :class:`Signature`.
    """
    frame = example_frame(input_example)
    inputs = [_column_spec(str(name), frame[name]) for name in frame.columns]
    outputs: list[ColumnSpec] | None = None
    predict = getattr(model, "predict", None)
    if callable(predict):
        outputs = _output_specs(np.asarray(predict(frame)))
    return Signature(inputs, outputs)


def _output_specs(result: np.ndarray[Any, Any]) -> list[ColumnSpec]:
    import pandas as pd

    if result.ndim <= 1 or (result.ndim == 2 and result.shape[1] == 1):
        return [_column_spec("prediction", pd.Series(result.reshape(-1)))]
    return [
        _column_spec(f"prediction_{i}", pd.Series(result[:, i])) for i in range(result.shape[1])
    ]


def _column_spec(name: str, series: pd.Series) -> ColumnSpec:
    import pandas as pd

    nullable = bool(series.isna().any())
    dtype = series.dtype
    kind: ColumnType
    if pd.api.types.is_bool_dtype(dtype):
        kind = "boolean"
    elif pd.api.types.is_integer_dtype(dtype):
        kind = "long"
    elif pd.api.types.is_float_dtype(dtype):
        kind = "double"
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        kind = "datetime"
    elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        kind = "string"
    else:
        kind = _object_kind(name, series)
    return ColumnSpec(name, kind, nullable)


def _object_kind(name: str, series: pd.Series) -> ColumnType:
    """The type of an object column from its non-null values."""
    values = [v for v in series.tolist() if not _is_null(v)]
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return "boolean"
    if values and all(_is_int(v) for v in values):
        return "long"
    if values and all(_is_number(v) for v in values):
        return "double"
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, (datetime.date, np.datetime64)) for v in values):
        return "datetime"  # date and datetime objects (a Timestamp is a datetime)
    bad = next(v for v in values if not isinstance(v, str))
    raise SignatureError(
        f"Cannot infer a type for column {name!r}: it mixes values such as {bad!r}.",
        hint="Give the column one type (numbers, booleans, strings or datetimes).",
        column=name,
        value=bad,
    )


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    import pandas as pd

    return value is pd.NaT or value is pd.NA


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, (float, np.floating))


def _coerce(series: pd.Series, spec: ColumnSpec, check_nulls: bool) -> pd.Series:
    """``series`` as ``spec.type``; raises naming the column and the first bad value."""
    import pandas as pd

    nulls = series.isna()
    if check_nulls and not spec.nullable and bool(nulls.any()):
        raise _type_error(spec, None, _WANTED[spec.type])
    dtype = series.dtype
    values = series.reset_index(drop=True)
    if spec.type == "double":
        if pd.api.types.is_float_dtype(dtype) or (
            pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        ):
            return values.astype("float64")
        _check_values(values, spec, _is_number, _WANTED["double"])
        return values.astype("float64")
    if spec.type == "long":
        if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            return values
        _check_values(values, spec, _is_integral, _WANTED["long"])
        return values.astype("Int64" if bool(nulls.any()) else "int64")
    if spec.type == "boolean":
        if pd.api.types.is_bool_dtype(dtype):
            return values
        _check_values(values, spec, lambda v: isinstance(v, (bool, np.bool_)), _WANTED["boolean"])
        return values.astype("boolean" if bool(nulls.any()) else "bool")
    if spec.type == "string":
        if not pd.api.types.is_object_dtype(dtype) and pd.api.types.is_string_dtype(dtype):
            return values
        _check_values(values, spec, lambda v: isinstance(v, str), _WANTED["string"])
        return values.astype("str")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return values
    _check_values(values, spec, lambda v: isinstance(v, (str, pd.Timestamp)), "a datetime")
    try:
        return pd.Series(pd.to_datetime(values, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        bad = next((v for v in values if not _parses_as_datetime(v)), values.iloc[0])
        raise _type_error(spec, bad, _WANTED["datetime"]) from exc


def _is_integral(value: Any) -> bool:
    if _is_int(value):
        return True
    return isinstance(value, (float, np.floating)) and float(value).is_integer()


def _parses_as_datetime(value: Any) -> bool:
    import pandas as pd

    try:
        pd.Timestamp(value)
    except (ValueError, TypeError):
        return False
    return True


def _check_values(values: pd.Series, spec: ColumnSpec, accept: Any, wanted: str) -> None:
    for value in values.tolist():
        if _is_null(value):
            continue
        if not accept(value):
            raise _type_error(spec, value, wanted)


def _type_error(spec: ColumnSpec, value: Any, wanted: str) -> SignatureError:
    shown = "a missing value" if value is None else f"{value!r} ({type(value).__name__})"
    return SignatureError(
        f"Column {spec.name!r} expects {wanted} ({spec.type}), got {shown}.",
        hint=f"Send {spec.type} values in {spec.name!r}"
        + ("; it does not accept missing values." if value is None else "."),
        column=spec.name,
        value=value,
    )
