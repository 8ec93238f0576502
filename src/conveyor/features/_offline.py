"""The point-in-time join of the offline store, run in DuckDB (``ASOF JOIN``).

For each row of an entity frame and each feature view, the join finds the view row with
the same join key values and the latest timestamp at or before the row's timestamp, so a
training set never sees a value from its rows' future. :func:`point_in_time_join` checks
the entity frame (timestamp kinds, join keys and their types) before any SQL runs, and
names the offending column, row and value when it refuses one.

DuckDB sees only keys, timestamps and row numbers: per view, an ``ASOF JOIN`` finds each
entity row's latest view timestamp, a hash join back on that timestamp picks the last row
of a tie, and the feature values are then taken from the view's Arrow table by position,
so they keep their exact Arrow type and never travel through DuckDB's sort. User names
never reach SQL either: the columns are handed over as Arrow tables (zero copy) renamed
by position (``k0``, ``t``, ``p``), so a column called ``a"b``, ``select`` or
``1; DROP TABLE x`` is just data.

Reading the entity frame's columns and timestamps lives in
:mod:`conveyor.features._entity_frame`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from conveyor.features._entity_frame import columns_text, entity_column, entity_micros
from conveyor.features._errors import EntityFrameError, FeatureDefinitionError, FeatureSourceError

__all__ = ["ViewTable", "point_in_time_join"]

_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class ViewTable:
    """One feature view's offline rows, as the join reads them.

    Args:
        name: The view's name (``view__feature`` with ``full_names=True``).
        join_keys: The columns that identify an entity, in the view and the entity frame.
        timestamp_field: The view's column saying when each row's values became true
            (an Arrow timestamp; ``timestamp[us, tz=UTC]`` as stored).
        ttl: How long a value stays valid after its timestamp (``None``: forever).
        features: The feature columns wanted from this view.
        table: The rows: join keys, the timestamp field and the features (other columns
            are ignored).
    """

    name: str
    join_keys: tuple[str, ...]
    timestamp_field: str
    ttl: timedelta | None
    features: tuple[str, ...]
    table: pa.Table


def point_in_time_join(
    entity_df: pd.DataFrame,
    views: Sequence[ViewTable],
    *,
    timestamp_column: str = "event_timestamp",
    full_names: bool = False,
) -> pd.DataFrame:
    """``entity_df`` with each requested feature's value as of each row's timestamp.

    For every entity row and every view, the value comes from the view row with the same
    join key values whose timestamp is the latest one at or before the entity row's
    timestamp, never a later one. With a TTL the value must also be recent enough: a view
    row at ``feature_ts`` is used only if ``entity_ts - ttl <= feature_ts <= entity_ts``.
    Several view rows with one key and one timestamp: the one that comes last in the
    view's table wins (last written wins). No such row, or a missing (null) key value in
    the entity frame: the feature is missing (``NaN``, ``<NA>`` or ``NaT`` by type).

    The result keeps ``entity_df``'s rows in their order with their index, and all its
    columns unchanged, followed by one column per feature, named after the feature (or
    ``view__feature`` with ``full_names=True``). Column types follow the view's Arrow
    types: integers become nullable ``Int64`` (whether or not a value is missing),
    floats stay ``float64``, strings ``string``, booleans ``boolean`` and timestamps
    ``datetime64[us, UTC]``.

    Entity timestamps may be a datetime column, tz-naive (read as UTC) or tz-aware (any
    zone, converted to UTC), or an object or string column of datetimes, dates (midnight)
    or ISO 8601 strings, all naive or all aware. They are compared at microsecond
    precision, the precision of the view tables; finer digits are dropped.

    Args:
        entity_df: The rows to enrich: the views' join key columns and
            ``timestamp_column``, plus any other columns (kept as they are).
        views: The views to read, each with the features wanted from it.
        timestamp_column: The entity frame's column saying as of when each row's
            features are read.
        full_names: Name the new columns ``view__feature``.

    Returns:
        A new frame: ``entity_df``'s columns, then the features in the order requested.

    Raises:
        EntityFrameError: The timestamp column or a join key column is missing; a
            timestamp is missing, unparseable, or the column mixes tz-naive and tz-aware
            values; a join key's type cannot be compared with the view's; ``entity_df``
            is not a DataFrame.
        FeatureDefinitionError: Two features, or a feature and an entity frame column,
            would get the same name.
        FeatureSourceError: A view's table lacks a column it should have, or its
            timestamp field is not a timestamp.

    Example:
        >>> import pyarrow as pa, pandas as pd
        >>> times = pd.to_datetime(["2024-01-01", "2024-02-01"], utc=True)
        >>> rows = pa.table({
        ...     "user_id": [1, 1],
        ...     "event_timestamp": pa.array(times, pa.timestamp("us", "UTC")),
        ...     "spend": [10.0, 20.0],
        ... })
        >>> view = ViewTable("stats", ("user_id",), "event_timestamp", None, ("spend",), rows)
        >>> entities = pd.DataFrame({"user_id": [1], "event_timestamp": ["2024-01-15"]})
        >>> point_in_time_join(entities, [view])["spend"].tolist()
        [10.0]
    """
    if not isinstance(entity_df, pd.DataFrame):
        raise EntityFrameError(
            f"The entity frame must be a pandas DataFrame, got {type(entity_df).__name__}.",
            hint="Pass pd.DataFrame(...) with the join keys and the timestamp column.",
        )
    names = _output_names(entity_df, views, full_names)
    times = entity_micros(entity_df, timestamp_column)
    entity_keys = _entity_keys(entity_df, views)
    view_tables = [_view_arrays(view, entity_keys) for view in views]
    key_index = {key: i for i, key in enumerate(entity_keys)}
    entity = pa.table(
        {
            "r": pa.array(np.arange(len(entity_df), dtype=np.int64)),
            "t": pa.array(times, pa.int64()),
            **{f"k{i}": array for i, array in enumerate(entity_keys.values())},
        }
    )
    rows: list[pa.Array] = []
    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {_threads()}")
        con.register("entity", entity)
        for view, table in zip(views, view_tables, strict=True):
            if not view.features:
                continue
            con.register("view_rows", table)
            rows.append(_latest_rows(con, view, key_index, len(entity_df)))
            con.unregister("view_rows")
    finally:
        con.close()
    return _assemble(entity_df, [v for v in views if v.features], rows, names)


def _latest_rows(
    con: duckdb.DuckDBPyConnection, view: ViewTable, key_index: dict[str, int], n: int
) -> pa.Array:
    """For each entity row, the position in the view's table of the row it reads (null:
    none).

    Two steps, every name generated here: an ``ASOF JOIN`` over the keys and timestamps
    alone finds each entity row's latest view timestamp at or before its own (then the
    TTL is applied to it); a hash join back to the view on keys and that timestamp takes
    the last row of the tie. Feature values never go through DuckDB: they are taken
    from the view's Arrow table by position.
    """
    keys = [f"k{key_index[k]}" for k in view.join_keys]
    ttl = _ttl_micros(view)
    match_keys = " AND ".join(f"e.{k} = v.{k}" for k in keys)
    back_keys = " AND ".join(f"m.{k} = v.{k}" for k in keys)
    query = (
        f"WITH m AS (SELECT e.r, {', '.join(f'e.{k}' for k in keys)}, v.t AS vt FROM entity e "
        f"ASOF JOIN (SELECT {', '.join(keys)}, t FROM view_rows WHERE t IS NOT NULL) v "
        f"ON {match_keys} AND e.t >= v.t"
        + ("" if ttl is None else f" WHERE e.t::HUGEINT - v.t <= {int(ttl)}")
        + f") SELECT m.r, max(v.p) AS p FROM m JOIN view_rows v ON {back_keys} AND m.vt = v.t "
        "GROUP BY m.r"
    )
    relation = con.sql(query)
    found: pa.Table = (
        relation.to_arrow_table()
        if hasattr(relation, "to_arrow_table")
        else relation.fetch_arrow_table()
    )
    positions = np.full(n, -1, dtype=np.int64)
    positions[found.column("r").to_numpy()] = found.column("p").to_numpy()
    return pa.array(positions, mask=positions < 0)


# -- names --------------------------------------------------------------------------------


def _output_names(
    entity_df: pd.DataFrame, views: Sequence[ViewTable], full_names: bool
) -> list[str]:
    names: list[str] = []
    origin: dict[str, str] = {}
    columns = set(entity_df.columns)
    for view in views:
        for feature in view.features:
            name = f"{view.name}__{feature}" if full_names else feature
            ref = f"{view.name}:{feature}"
            if name in origin:
                raise FeatureDefinitionError(
                    f"Features {origin[name]!r} and {ref!r} would both be named {name!r}.",
                    hint="Pass full_names=True to name columns view__feature."
                    if not full_names
                    else "Request the feature once.",
                    name=name,
                )
            if name in columns:
                raise FeatureDefinitionError(
                    f"Feature {ref!r} would be named {name!r}, which is already a column of "
                    "the entity frame.",
                    hint="Pass full_names=True to name columns view__feature."
                    if not full_names
                    else f"Rename the entity frame's column {name!r}.",
                    name=name,
                )
            origin[name] = ref
            names.append(name)
    return names


# -- join keys ----------------------------------------------------------------------------


def _kind(dtype: pa.DataType) -> str:
    """The family of types DuckDB compares with each other."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "number"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "binary"
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    if pa.types.is_date(dtype):
        return "date"
    return str(dtype)


def _entity_keys(entity_df: pd.DataFrame, views: Sequence[ViewTable]) -> dict[str, pa.Array]:
    """Each join key column the views need, as Arrow, checked against the views' types."""
    keys: dict[str, pa.Array] = {}
    for view in views:
        for key in view.join_keys:
            if key not in entity_df.columns:
                raise EntityFrameError(
                    f"Feature view {view.name!r} joins on {key!r}, which the entity frame "
                    f"lacks; its columns are {columns_text(list(entity_df.columns))}.",
                    hint=f"Add a {key!r} column to the entity frame.",
                    column=key,
                    view=view.name,
                )
            view_type = _view_column(view, key).type
            if pa.types.is_dictionary(view_type):
                view_type = view_type.value_type
            series = entity_column(entity_df, key, "join key")
            if key not in keys:
                keys[key] = _key_array(series, key, view_type)
            entity_type = keys[key].type
            comparable = pa.types.is_null(entity_type) or pa.types.is_null(view_type)
            if not comparable and _kind(entity_type) != _kind(view_type):
                raise EntityFrameError(
                    f"Join key {key!r} holds {view_type} values in feature view "
                    f"{view.name!r} but {entity_type} values ({series.dtype}) in the entity "
                    "frame; they cannot be compared.",
                    hint=f"Convert the entity frame's {key!r} column to the view's type.",
                    column=key,
                    view=view.name,
                    entity_type=str(entity_type),
                    view_type=str(view_type),
                )
    return keys


def _key_array(series: pd.Series, key: str, view_type: pa.DataType) -> pa.Array:
    try:
        array = pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise EntityFrameError(
            f"The entity frame's join key column {key!r} ({series.dtype}) mixes values of "
            f"several types: {exc}.",
            hint=f"Give {key!r} values of one type, the view's {view_type}.",
            column=key,
        ) from exc
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if array.null_count == len(array):  # no value at all: nothing matches, whatever the type
        array = pa.nulls(len(array))
    return array


# -- views --------------------------------------------------------------------------------


def _view_column(view: ViewTable, name: str) -> pa.ChunkedArray:
    if name not in view.table.column_names:
        raise FeatureSourceError(
            f"The table of feature view {view.name!r} has no column {name!r}; its columns "
            f"are {columns_text(view.table.column_names)}.",
            hint="Check the view's schema, join keys and timestamp field against its source.",
            view=view.name,
            column=name,
        )
    column: pa.ChunkedArray = view.table.column(name)
    return column


def _view_arrays(view: ViewTable, entity_keys: dict[str, pa.Array]) -> pa.Table:
    """The view's keys and timestamps under positional names, plus each row's position
    ``p`` (features are checked to exist, and taken later by position)."""
    timestamps = _view_column(view, view.timestamp_field)
    if not pa.types.is_timestamp(timestamps.type):
        raise FeatureSourceError(
            f"The timestamp field {view.timestamp_field!r} of feature view {view.name!r} "
            f"holds {timestamps.type} values, not timestamps.",
            hint="Store the timestamp field as timestamp[us, tz=UTC].",
            view=view.name,
            column=view.timestamp_field,
        )
    if timestamps.type.unit != "us":
        timestamps = pc.cast(timestamps, pa.timestamp("us", timestamps.type.tz), safe=False)
    columns: dict[str, pa.ChunkedArray | pa.Array] = {"t": pc.cast(timestamps, pa.int64())}
    position = list(entity_keys)
    for key in view.join_keys:
        array = _view_column(view, key)
        if pa.types.is_dictionary(array.type):
            array = pc.dictionary_decode(array)
        columns[f"k{position.index(key)}"] = array
    for feature in view.features:
        _view_column(view, feature)
    columns["p"] = pa.array(np.arange(view.table.num_rows, dtype=np.int64))
    return pa.table(columns)


def _ttl_micros(view: ViewTable) -> int | None:
    if view.ttl is None:
        return None
    if view.ttl < timedelta(0):
        raise FeatureDefinitionError(
            f"Feature view {view.name!r} has a negative ttl {view.ttl!r}.",
            hint="Give a positive ttl, or None for values that never expire.",
            view=view.name,
        )
    return view.ttl // _MICROSECOND


def _threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 16))


# -- result -------------------------------------------------------------------------------


_PANDAS_TYPES: dict[pa.DataType, Any] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


def _in_utc(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as UTC (tz-naive ones are read as UTC); anything else as it is."""
    if pa.types.is_timestamp(array.type) and array.type.tz != "UTC":
        utc: pa.ChunkedArray = pc.cast(array, pa.timestamp(array.type.unit, "UTC"))
        return utc
    return array


def _assemble(
    entity_df: pd.DataFrame, views: Sequence[ViewTable], rows: list[pa.Array], names: list[str]
) -> pd.DataFrame:
    if not names:
        return entity_df.copy()
    arrays = [
        _in_utc(_view_column(view, feature).take(positions))
        for view, positions in zip(views, rows, strict=True)
        for feature in view.features
    ]
    features = pa.table(arrays, names=names).to_pandas(types_mapper=_PANDAS_TYPES.get)
    features.index = entity_df.index
    joined_frame: pd.DataFrame = pd.concat([entity_df, features], axis=1)
    return joined_frame
