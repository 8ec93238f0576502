"""The Parquet layout of logged predictions: one object per batch of one model version.

Columns: ``request_id``, ``at`` (UTC, microseconds), ``model``, ``version``,
``environment``, ``variant``, ``revision``, ``latency_ms``, ``status`` (``"ok"`` or
``"error"``), ``error`` (what failed, else null), one ``in_<feature>`` column per input
feature, and ``prediction`` (null for a failed request). Batches written before ``status``
existed read back as ``"ok"`` with no error. Scalar inputs and predictions keep their Arrow
type; a column holding anything else (lists, dicts, mixed types) is stored as JSON text and
listed in the schema metadata, so reading it back gives the original values.

Objects are written with zstd, one row group, min/max statistics for ``at`` alone (the
only column a reader could prune by; the others' statistics cost more CPU to gather than
the Parquet encoding itself), and a dictionary only where values repeat:
the columns every row of a write shares (model, version, deployment, status, error) and
plain string columns (categories, class labels). Request ids, times, latencies, numbers
and JSON text are stored plain: a dictionary of values that rarely repeat costs more to
build than it saves, and is larger. Readers see the same table either way (objects
written before with a dictionary on every column read back unchanged).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.predictions._records import Loggable, PredictionBatch, as_utc

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

INPUT_PREFIX = "in_"
PREDICTION = "prediction"
BASE_COLUMNS = (
    "request_id",
    "at",
    "model",
    "version",
    "environment",
    "variant",
    "revision",
    "latency_ms",
    "status",
    "error",
)
FORMAT = b"conveyor.prediction-log/1"
_FORMAT_KEY = b"conveyor.format"
_JSON_KEY = b"conveyor.json_columns"
_SCALARS = (str, bool, int, float, datetime)
#: NumPy dtypes (``dtype.str``) stored as they are: float64, int64, bool.
_NUMPY_PLAIN = frozenset({"<f8", "<i8", "|b1"})
#: Exact types that need no conversion before typing a column (the fast path).
_PLAIN_TYPES = frozenset({str, bool, int, float, datetime, type(None)})
#: Base columns every row of one write shares (its partition) or nearly so.
_SHARED_COLUMNS = ("model", "version", "environment", "variant", "revision", "status", "error")


def encode_batch(records: Sequence[Loggable]) -> bytes:
    """Serialise records (all of one partition) as Parquet bytes; same records, same bytes.

    A :class:`PredictionBatch` (all rows of a request) is stored exactly as its
    :meth:`~PredictionBatch.records` would be: each column is gathered across the items
    into one list and typed once, so the type rules (strings, booleans, nulls, integers
    next to floats, JSON text for anything else) and the bytes written do not depend on
    how the rows were grouped, and no object is made per row.
    """
    import pyarrow as pa

    features: dict[str, None] = {}
    for item in records:
        names = item.columns if isinstance(item, PredictionBatch) else item.inputs
        features.update(dict.fromkeys(names))

    # What a request's rows share is converted once per item and repeated by Arrow.
    rows_of = [item.rows if isinstance(item, PredictionBatch) else 1 for item in records]
    repeat = None if len(rows_of) == sum(rows_of) else _repeat_index(rows_of)

    def scalar(get: Callable[[Loggable], Any], kind: pa.DataType) -> pa.Array:
        per_item = pa.array([get(item) for item in records], kind)
        return per_item if repeat is None else per_item.take(repeat)

    arrays: dict[str, pa.Array] = {
        "request_id": _request_ids(records, rows_of, repeat),
        "at": scalar(lambda r: as_utc(r.at), pa.timestamp("us", tz="UTC")),
        "model": scalar(lambda r: r.model, pa.string()),
        "version": scalar(lambda r: r.version, pa.int64()),
        "environment": scalar(lambda r: r.environment, pa.string()),
        "variant": scalar(lambda r: r.variant, pa.string()),
        "revision": scalar(lambda r: r.revision, pa.int64()),
        "latency_ms": scalar(lambda r: float(r.latency_ms), pa.float64()),
        "status": scalar(lambda r: r.status, pa.string()),
        "error": scalar(lambda r: r.error, pa.string()),
    }
    json_columns: list[str] = []
    for feature in features:
        name = INPUT_PREFIX + feature
        numeric = _numeric_column(records, feature)
        if numeric is not None:
            arrays[name], as_json = numeric, False
        else:
            values: list[Any] = []
            for item in records:
                if isinstance(item, PredictionBatch):
                    values += item.column(feature)
                else:
                    values.append(item.inputs.get(feature))
            arrays[name], as_json = _column(values)
        if as_json:
            json_columns.append(name)
    predictions = _gather(records, PredictionBatch.prediction_list, lambda r: r.prediction)
    arrays[PREDICTION], as_json = _column(predictions)
    if as_json:
        json_columns.append(PREDICTION)
    table = pa.table(arrays).replace_schema_metadata(
        {_FORMAT_KEY: FORMAT, _JSON_KEY: json.dumps(json_columns).encode()}
    )
    return _write(table, json_columns)


def _write(table: pa.Table, json_columns: Sequence[str]) -> bytes:
    """``table`` as Parquet bytes: zstd, statistics of ``at``, dictionaries where values repeat."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shared = set(_SHARED_COLUMNS)
    dictionary = [
        field.name
        for field in table.schema
        if field.name in shared
        or (
            field.name not in json_columns
            and field.name != "request_id"
            and pa.types.is_string(field.type)
        )
    ]
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        use_dictionary=dictionary,
        write_statistics=["at"] if "at" in table.column_names else False,
    )
    return bytes(sink.getvalue().to_pybytes())


def _request_ids(
    items: Sequence[Loggable], rows_of: list[int], repeat: pa.Array | None
) -> pa.Array:
    """Each row's request id, ``<id>:<i>`` for row ``i`` of a batch of several rows, built
    in Arrow: each item's id repeated, joined to a suffix taken from a shared array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array([item.request_id for item in items], pa.string())
    if repeat is None:  # one row per item: the ids as they are
        return ids
    counts = np.asarray(rows_of, dtype=np.int64)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    # Position 0 of the suffixes is "" (an item of one row), position i + 1 is ":i".
    position = np.arange(len(starts), dtype=np.int64) - starts + 1
    position[np.repeat(counts == 1, counts)] = 0
    suffixes = _suffix_array(int(counts.max())).take(pa.array(position))
    return pc.binary_join_element_wise(ids.take(repeat), suffixes, "")


_suffix_cache: pa.Array | None = None


def _suffix_array(rows: int) -> pa.Array:
    """``["", ":0", ":1", ...]`` covering ``rows`` rows, from a cache shared by every write.

    The cache is replaced, never changed in place, so concurrent writers are safe.
    """
    global _suffix_cache  # noqa: PLW0603 - a cache, replaced whole
    cached = _suffix_cache
    if cached is None or len(cached) <= rows:
        import pyarrow as pa

        size = max(rows, 2 * (0 if cached is None else len(cached) - 1), 1024)
        cached = pa.array(["", *(f":{i}" for i in range(size))], pa.string())
        _suffix_cache = cached
    return cached


def _numeric_column(items: Sequence[Loggable], feature: str) -> pa.Array | None:
    """``feature`` straight from NumPy, when every item holds it as an array of one type.

    Only float64, int64 and bool arrays qualify: Arrow types them exactly as it types the
    same values given as Python lists (NaN stays NaN), so the bytes do not change.
    """
    import numpy as np

    ndarray = np.ndarray
    dtype = None
    arrays: list[Any] = []
    for item in items:
        values = item.columns.get(feature) if isinstance(item, PredictionBatch) else None
        if not isinstance(values, ndarray) or values.ndim != 1:
            return None
        kind = values.dtype
        # Arrays of one built-in type share its dtype object: compare by identity first.
        if kind is not dtype:
            if dtype is not None and kind != dtype:
                return None
            dtype = kind
        arrays.append(values)
    if dtype is None or dtype.str not in _NUMPY_PLAIN:
        return None
    import pyarrow as pa

    return pa.array(arrays[0] if len(arrays) == 1 else np.concatenate(arrays))


def _repeat_index(rows_of: list[int]) -> pa.Array:
    """Item index of every row: ``[0, 0, 0, 1, 2, 2]`` for items of 3, 1 and 2 rows."""
    import numpy as np
    import pyarrow as pa

    return pa.array(np.repeat(np.arange(len(rows_of), dtype=np.int64), rows_of))


def _gather(
    items: Sequence[Loggable],
    of_batch: Callable[[PredictionBatch], list[Any]],
    of_record: Callable[[Any], Any],
) -> list[Any]:
    """One value per row: a batch's list of values, a record's single value, in order."""
    values: list[Any] = []
    for item in items:
        if isinstance(item, PredictionBatch):
            values += of_batch(item)
        else:
            values.append(of_record(item))
    return values


def decode_batch(data: bytes, *, columns: list[str] | None = None) -> pa.Table:
    """Read Parquet bytes written by :func:`encode_batch` (optionally only some columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data), columns=columns)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Convert a decoded batch to pandas, turning JSON-text columns back into values."""
    metadata = table.schema.metadata or {}
    json_columns = json.loads(metadata.get(_JSON_KEY, b"[]"))
    import pandas as pd
    import pyarrow as pa

    # Nullable integers: a revision or an integer input with gaps stays an integer.
    integers = {pa.int64(): pd.Int64Dtype()}
    frame: pd.DataFrame = table.replace_schema_metadata(None).to_pandas(types_mapper=integers.get)
    for name in json_columns:
        if name in frame.columns:
            frame[name] = _decoded(table.column(name), frame.index)
    if "status" not in frame.columns:  # written before failed predictions were logged
        frame["status"] = pd.Series(["ok"] * len(frame), index=frame.index, dtype=object)
        frame["error"] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return frame


def _decoded(column: pa.ChunkedArray, index: pd.Index) -> pd.Series:
    import pandas as pd

    values = [None if text is None else json.loads(text) for text in column.to_pylist()]
    return pd.Series(values, index=index, dtype=object)


def _column(values: list[Any]) -> tuple[pa.Array, bool]:
    """An Arrow array of ``values``; JSON text when they are not scalars of one type."""
    import pyarrow as pa

    if _PLAIN_TYPES.issuperset(map(type, values)):
        plain: list[Any] | None = values  # Python scalars only: nothing to convert
    else:
        plain = []
        for raw in values:
            value = _plain(raw)
            if value is not None and not isinstance(value, _SCALARS):
                plain = None
                break
            plain.append(value)
    if plain is not None:
        try:
            return pa.array(plain), False
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass  # mixed scalar types (e.g. 1 and "a"): fall through to JSON text
    texts = [None if v is None else json.dumps(v, default=json_default) for v in values]
    return pa.array(texts, pa.string()), True


def _plain(value: Any) -> Any:
    """NumPy scalars become Python scalars; everything else is returned unchanged."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for NumPy values and datetimes found in inputs and outputs."""
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def filter_batch(table: pa.Table, keep: list[bool]) -> bytes:
    """Parquet bytes of the rows of a decoded batch where ``keep`` is true (same layout)."""
    import pyarrow as pa

    json_columns = json.loads((table.schema.metadata or {}).get(_JSON_KEY, b"[]"))
    return _write(table.filter(pa.array(keep, pa.bool_())), json_columns)


def input_values(table: pa.Table, feature: str) -> list[Any] | None:
    """The values of input ``feature`` in a decoded batch (``None``: it has no such column)."""
    name = INPUT_PREFIX + feature
    if name not in table.column_names:
        return None
    values: list[Any] = table.column(name).to_pylist()
    if name in json.loads((table.schema.metadata or {}).get(_JSON_KEY, b"[]")):
        return [None if text is None else json.loads(text) for text in values]
    return values
