"""Request rows checked against a model's input columns, turned into what its predictor takes.

Validation is column-wise and strict: numbers are never read from strings, booleans are not
numbers, integers must fit their column (64-bit for ``long``, a finite double for
``double``), and a value that does not fit names its column (422). Missing columns are listed (400);
extra columns follow the ``extra_columns`` policy. When every input is numeric and the predictor
has ``predict_array``, the rows become one float64 array without pandas (the single-row hot
path); otherwise they become a DataFrame checked again by the signature's ``validate``.

Numeric columns are checked a whole column at a time: one pass over the value types, then one
numpy conversion and one finiteness check. Any column that does not pass (a wrong type, a
non-finite value, an integer out of range, a null) goes through the per-value checks, so the
error a client sees is the same either way. Columns read from Arrow or Parquet bodies arrive as
numpy arrays and are checked by dtype.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from conveyor.serving._errors import (
    ExtraColumnsError,
    FeatureColumnSentError,
    InvalidValueError,
    MalformedRequestError,
    MissingColumnsError,
    NonFiniteValueError,
    TooManyRowsError,
)
from conveyor.serving._model import InputColumn, ServedModel
from conveyor.serving._settings import ServingSettings

_NAN = float("nan")
#: A ``long`` column holds 64-bit signed integers (what numpy and Parquet store).
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1


@dataclass
class Rows:
    """Validated input: one sequence per signature column, in signature order.

    Attributes:
        columns: Column name -> its values: a list, or a 1-D numpy array for numeric columns
            checked as a whole (floats for ``double`` columns, ``nan`` for nulls).
        n: Number of rows.
        matrix: The float64 array (n x columns) when the model takes the array path.
    """

    columns: dict[str, Sequence[Any]]
    n: int
    matrix: npt.NDArray[np.float64] | None = None

    def records(self) -> list[dict[str, Any]]:
        """One ``{column: value}`` dict per row (what the prediction log records)."""
        names = list(self.columns)
        return [
            dict(zip(names, values, strict=True))
            for values in zip(*self.columns.values(), strict=True)
        ]


def from_records(model: ServedModel, records: Any, settings: ServingSettings) -> Rows:
    """Validate a list of ``{column: value}`` rows."""
    if not isinstance(records, list) or not records:
        raise MalformedRequestError(
            "Expected a non-empty list of rows ({column: value} objects).",
            hint='Send {"rows": [{"x": 1.0}]}.',
        )
    check_row_count(len(records), settings)
    if set(map(type, records)) != {dict}:
        for row in records:
            if not isinstance(row, dict):
                raise MalformedRequestError(
                    f"Every row must be a JSON object; got {type(row).__name__}.",
                    hint='Send rows as objects: {"rows": [{"x": 1.0}]}.',
                )
    keys: set[str] = set().union(*records)
    _check_names(model, keys, settings)
    names = model.column_names
    if not names:
        return _finish(model, {}, len(records))
    try:
        # One C-level pass: each row's values in signature order, then one tuple per column.
        picked = list(map(itemgetter(*names), records))
    except KeyError:
        missing_in = [c for c in names if any(c not in r for r in records)]
        raise MissingColumnsError(
            f"Some rows lack column(s): {', '.join(missing_in)}.",
            hint="Send every column in every row (null for a missing value, if nullable).",
            missing=missing_in,
        ) from None
    values = [picked] if len(names) == 1 else list(zip(*picked, strict=True))
    columns = {
        c.name: _clean(c, column, settings) for c, column in zip(model.columns, values, strict=True)
    }
    return _finish(model, columns, len(records))


def from_columns(model: ServedModel, table: Any, settings: ServingSettings) -> Rows:
    """Validate a ``{column: [values]}`` mapping (all lists the same length)."""
    if not isinstance(table, dict) or not table:
        raise MalformedRequestError(
            "Expected a non-empty object of columns ({column: [values]}).",
            hint='Send {"columns": {"x": [1.0, 2.0]}}.',
        )
    # Arrays come from Arrow and Parquet bodies (a JSON body only ever holds lists).
    lengths = {len(v) if isinstance(v, (list, np.ndarray)) else -1 for v in table.values()}
    if -1 in lengths or len(lengths) != 1 or 0 in lengths:
        raise MalformedRequestError(
            "Every column must be a non-empty list and all lists the same length; "
            f"got lengths {sorted(lengths)}.",
            hint='Send {"columns": {"x": [1.0, 2.0], "y": [3.0, 4.0]}}.',
        )
    n = lengths.pop()
    check_row_count(n, settings)
    _check_names(model, set(table), settings)
    columns = {c.name: _clean(c, table[c.name], settings) for c in model.columns}
    return _finish(model, columns, n)


def from_split(model: ServedModel, names: Any, data: Any, settings: ServingSettings) -> Rows:
    """Validate ``columns`` + ``data`` (a list of rows as lists), MLflow's ``dataframe_split``."""
    if names is None:
        names = list(model.column_names)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise MalformedRequestError(
            "'columns' must be a list of column names.",
            hint='Send {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}.',
        )
    if not isinstance(data, list) or not data:
        raise MalformedRequestError(
            "'data' must be a non-empty list of rows.",
            hint='Send {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}.',
        )
    check_row_count(len(data), settings)
    width = len(names)
    if set(map(type, data)) != {list} or set(map(len, data)) != {width}:
        for row in data:
            if not isinstance(row, list) or len(row) != width:
                raise MalformedRequestError(
                    f"Every row of 'data' must be a list of {width} values (one per column).",
                    hint="Make each row as long as 'columns'.",
                )
    _check_names(model, set(names), settings)
    position = {n: i for i, n in enumerate(names)}
    # One transpose in C: a tuple per sent column, picked by name.
    sent = list(zip(*data, strict=True)) if width else []
    columns = {c.name: _clean(c, sent[position[c.name]], settings) for c in model.columns}
    return _finish(model, columns, len(data))


def from_matrix(model: ServedModel, data: Any, settings: ServingSettings) -> Rows:
    """Validate rows given as lists of values in signature column order (tensor inputs)."""
    return from_split(model, list(model.column_names), data, settings)


def check_row_count(n: int, settings: ServingSettings) -> None:
    """Refuse a request of more than ``settings.max_batch_rows`` rows (413)."""
    if n > settings.max_batch_rows:
        raise TooManyRowsError(
            f"The request holds {n} rows; at most {settings.max_batch_rows} are accepted.",
            hint="Split the request into smaller batches.",
            rows=n,
            limit=settings.max_batch_rows,
        )


def _check_names(model: ServedModel, names: set[str], settings: ServingSettings) -> None:
    index = model.column_index
    if model.provided:
        _refuse_provided(model, names)
    missing = [c for c in model.column_names if c not in names]
    if missing:
        raise MissingColumnsError(
            f"Missing column(s): {', '.join(missing)}. Expected: {', '.join(model.column_names)}.",
            hint="Send every column of the model's signature.",
            missing=missing,
        )
    if settings.extra_columns == "reject" and len(names) != len(index):
        extra = sorted(n for n in names if n not in index)
        raise ExtraColumnsError(
            f"Unexpected column(s): {', '.join(extra)}. Expected: {', '.join(model.column_names)}.",
            hint="Remove them (this server rejects columns the signature does not name).",
            extra=extra,
        )


def _refuse_provided(model: ServedModel, names: set[str]) -> None:
    """Refuse columns the server looks up itself: a client sending them would bypass the
    feature store and train/serve skew would come back unnoticed."""
    sent = sorted(n for n in names if n in model.provided)
    if sent:
        raise FeatureColumnSentError(
            f"Column(s) {', '.join(map(repr, sent[:10]))} are features of the model's feature "
            "service, looked up by the server; a request may not send them.",
            hint="Send only the entity keys and request-time features: "
            f"{', '.join(model.column_names)}.",
            columns=sent[:10],
            expected=list(model.column_names),
        )


def with_features(
    model: ServedModel,
    request: Rows,
    found: Mapping[str, Sequence[Any]],
    settings: ServingSettings,
) -> Rows:
    """The model's full rows: ``request``'s columns (already validated) with the features
    ``found`` in the online store, checked against their columns like request values.

    Args:
        model: The served model (its columns are the signature's).
        request: The validated request rows (entity keys and request-time features).
        found: Feature name -> one value per row, for every signature column the request
            does not hold.
        settings: The server's input policies.

    Raises:
        InvalidValueError: A looked-up value does not fit its column (naming it).
    """
    columns: dict[str, Sequence[Any]] = {}
    for column in model.columns:
        sent = request.columns.get(column.name)
        if sent is not None:
            columns[column.name] = sent
            continue
        try:
            columns[column.name] = _clean(column, found[column.name], settings)
        except InvalidValueError as exc:
            raise InvalidValueError(
                f"Feature {column.name!r} from the online store does not fit the model: "
                f"{exc.message}",
                hint="Declare a default for the feature (and on_missing='default' on the "
                "service), or materialize the view again.",
                **exc.fields,
            ) from exc
    return _finish(model, columns, request.n)


def _bad(column: InputColumn, value: Any, why: str) -> InvalidValueError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InvalidValueError(
        f"Column '{column.name}' expects {column.type}{' or null' if column.nullable else ''}; "
        f"got {shown} ({why}).",
        hint=f"Send a {column.type} value for '{column.name}'.",
        column=column.name,
        value=shown,
    )


def _clean(
    column: InputColumn, values: Sequence[Any] | npt.NDArray[Any], settings: ServingSettings
) -> Sequence[Any]:
    """``values`` checked against ``column``: whole-column when possible, else per value.

    A numeric column may come back as a 1-D numpy array: it is held in :class:`Rows` as a
    sequence (length, indexing and iteration are all anyone uses).
    """
    if isinstance(values, np.ndarray):
        return cast(Sequence[Any], clean_array(column, values, settings))
    kind = column.type
    if kind in _FAST_KINDS:
        types = set(map(type, values))
        if kind in ("double", "float"):
            fast = _fast_double(column, values, types, settings)
            if fast is not None:
                return cast(Sequence[Any], fast)
        elif kind in ("long", "integer"):
            if types == {int}:
                try:
                    return cast(Sequence[Any], np.array(values, dtype=np.int64))
                except OverflowError:
                    pass  # out of the 64-bit range: the per-value check names the value
        elif types == {str}:
            return values if isinstance(values, list) else list(values)
    return _clean_values(column, values, settings)


_FAST_KINDS = frozenset({"double", "float", "long", "integer", "string", "datetime"})
_NUMBER_TYPES = frozenset({float, int})
_NULLABLE_NUMBER_TYPES = frozenset({float, int, type(None)})


def _fast_double(
    column: InputColumn, values: Sequence[Any], types: set[type], settings: ServingSettings
) -> npt.NDArray[np.float64] | None:
    """A ``double`` column as one float64 array, or ``None`` when a value needs a closer look
    (the per-value checks then raise the error, or accept what only they can tell apart)."""
    nulls = type(None) in types
    if not types <= (_NULLABLE_NUMBER_TYPES if column.nullable else _NUMBER_TYPES):
        return None
    try:
        array = np.array(values, dtype=np.float64)
    except (OverflowError, TypeError, ValueError):
        return None
    bad = ~np.isfinite(array)
    if bad.any():
        if settings.non_finite == "null" and column.nullable:
            array[bad] = np.nan
        elif not nulls or any(values[int(i)] is not None for i in np.flatnonzero(bad)):
            return None  # a NaN or Infinity the policy refuses
    return array


def clean_array(
    column: InputColumn, values: npt.NDArray[Any], settings: ServingSettings
) -> npt.NDArray[Any]:
    """A 1-D numpy column (from an Arrow or Parquet body, without nulls) checked by dtype.

    Raises:
        InvalidValueError: A value does not fit ``column`` (naming the first one).
    """
    kind, dtype = column.type, values.dtype.kind
    if kind in ("double", "float"):
        if dtype in "iu":
            return values.astype(np.float64)
        if dtype == "f":
            array = values.astype(np.float64)
            bad = ~np.isfinite(array)
            if bad.any():
                first = float(array[np.flatnonzero(bad)[0]])
                _non_finite(column, first, settings)
                array[bad] = np.nan
            return array
    elif kind in ("long", "integer"):
        if dtype == "i":
            return values.astype(np.int64)
        if dtype == "u":
            over = values > _LONG_MAX
            if over.any():
                raise _bad(
                    column, int(values[np.flatnonzero(over)[0]]), "out of the 64-bit integer range"
                )
            return values.astype(np.int64)
        if dtype == "f":
            whole = np.isfinite(values) & (np.floor(values) == values)
            if not whole.all():
                first = values[np.flatnonzero(~whole)[0]].item()
                raise _bad(column, first, f"a {_json_kind(first)}")
            inside = (values >= -(2.0**63)) & (values < 2.0**63)
            if not inside.all():
                first = values[np.flatnonzero(~inside)[0]].item()
                raise _bad(column, first, "out of the 64-bit integer range")
            return values.astype(np.int64)
    elif kind == "boolean":
        if dtype == "b":
            return values
    elif kind not in ("string", "datetime") and dtype in "iufb":
        return values  # a column of another type takes numbers as they are
    shown: Any = values[0].item() if values.size else None
    raise _bad(column, shown, f"a {_array_kind(values)}")


def _array_kind(values: npt.NDArray[Any]) -> str:
    kind = values.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "float"
    return str(values.dtype)


def _clean_values(
    column: InputColumn, values: Sequence[Any], settings: ServingSettings
) -> list[Any]:
    kind = column.type
    out: list[Any] = []
    append = out.append
    for v in values:
        t = type(v)
        if v is None:
            if not column.nullable:
                raise _bad(column, v, "the column is not nullable")
            append(_NAN if kind in ("double", "float", "long", "integer") else None)
        elif kind in ("double", "float"):
            if t is float:
                if not math.isfinite(v):
                    _non_finite(column, v, settings)
                    append(_NAN)
                else:
                    append(v)
            elif t is int:
                try:
                    append(float(v))
                except OverflowError:
                    raise _bad(column, v, "out of the range of a double") from None
            else:
                raise _bad(column, v, f"a {_json_kind(v)}")
        elif kind in ("long", "integer"):
            if (t is int or (t is float and v.is_integer())) and not _LONG_MIN <= v <= _LONG_MAX:
                raise _bad(column, v, "out of the 64-bit integer range")
            if t is int:
                append(v)
            elif t is float and v.is_integer():
                append(int(v))
            else:
                raise _bad(column, v, f"a {_json_kind(v)}")
        elif kind == "boolean":
            if t is not bool:
                raise _bad(column, v, f"a {_json_kind(v)}")
            append(v)
        elif kind in ("string", "datetime"):
            if t is not str:
                raise _bad(column, v, f"a {_json_kind(v)}")
            append(v)
        else:
            if t in (list, dict):
                raise _bad(column, v, f"a {_json_kind(v)}")
            append(v)
    return out


def _non_finite(column: InputColumn, value: float, settings: ServingSettings) -> None:
    if settings.non_finite == "reject" or not column.nullable:
        raise NonFiniteValueError(
            f"Column '{column.name}' got {value!r}; NaN and Infinity are not accepted"
            + (" (the column is not nullable)." if settings.non_finite == "null" else "."),
            hint="Send a finite number, or null in a nullable column.",
            column=column.name,
            value=repr(value),
        )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, float) and not value.is_integer():
        return "non-integer number"
    return type(value).__name__


def _finish(model: ServedModel, columns: dict[str, Sequence[Any]], n: int) -> Rows:
    matrix = None
    if model.array_path:
        if n == 1:
            matrix = np.array([[vals[0] for vals in columns.values()]], dtype=np.float64)
        else:
            matrix = np.empty((n, len(columns)), dtype=np.float64)
            for i, values in enumerate(columns.values()):
                matrix[:, i] = values
    return Rows(columns, n, matrix)


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else a malformed-request error."""
    if not isinstance(value, dict):
        raise MalformedRequestError(
            f"Expected a JSON object; got {_json_kind(value)}.",
            hint='Send an object such as {"rows": [{"x": 1.0}]}.',
        )
    return value
