"""The entity frame as the point-in-time join reads it: its columns and its timestamps.

:func:`entity_micros` turns the timestamp column (datetimes, naive or aware, dates or ISO
8601 strings) into microseconds since the epoch in UTC, and refuses a column it cannot
read with an :class:`~conveyor.features.EntityFrameError` naming the column, the row and
the value. :mod:`conveyor.features._offline` runs the join on what it reads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from conveyor.features._errors import EntityFrameError

__all__ = ["columns_text", "entity_column", "entity_micros"]


# -- columns ------------------------------------------------------------------------------


def columns_text(columns: Sequence[object]) -> str:
    """Up to 20 column names for a message (``'a', 'b' and 3 more``; ``none``)."""
    shown = ", ".join(repr(c) for c in list(columns)[:20])
    more = len(columns) - 20
    return (shown + (f" and {more} more" if more > 0 else "")) or "none"


def entity_column(entity_df: pd.DataFrame, name: str, what: str) -> pd.Series:
    """The entity frame's one column called ``name`` (``what`` it is, for the error)."""
    found = entity_df.loc[:, entity_df.columns == name]
    if found.shape[1] > 1:
        raise EntityFrameError(
            f"The entity frame has {found.shape[1]} columns named {name!r}, the {what}.",
            hint="Keep one column of that name.",
            column=name,
        )
    return found.iloc[:, 0]


# -- timestamps ---------------------------------------------------------------------------


def entity_micros(entity_df: pd.DataFrame, column: str) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The entity timestamps as microseconds since the epoch (UTC), checked."""
    if column not in entity_df.columns:
        raise EntityFrameError(
            f"The entity frame has no timestamp column {column!r}; its columns are "
            f"{columns_text(list(entity_df.columns))}.",
            hint="Pass timestamp_column=<the column saying when each row happened>.",
            column=column,
        )
    series = entity_column(entity_df, column, "timestamp column")
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_timestamp(dtype.pyarrow_dtype):
        tz = dtype.pyarrow_dtype.tz
        series = series.astype(pd.DatetimeTZDtype("us", tz) if tz else "datetime64[us]")
        dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    elif pd.api.types.is_datetime64_dtype(dtype):
        values = series.to_numpy()
    elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        values = _parse_objects(series, column)
    else:
        first = series.iloc[0] if len(series) else None
        raise EntityFrameError(
            f"The timestamp column {column!r} holds {dtype} values, not timestamps "
            f"(first: {first!r}).",
            hint="Convert it with pd.to_datetime (epoch seconds: "
            "pd.to_datetime(column, unit='s', utc=True)).",
            column=column,
            dtype=str(dtype),
        )
    missing = np.isnat(values)
    if missing.any():
        position = int(np.argmax(missing))
        _missing_time(series, column, position)
    return _to_micros(values)


def _to_micros(values: np.ndarray[Any, Any]) -> np.ndarray[Any, np.dtype[np.int64]]:
    if np.datetime_data(values.dtype)[0] == "ns":  # floor, so a row never reads a later value
        micros = np.floor_divide(values.view(np.int64), 1000)
    else:
        micros = values.astype("datetime64[us]").view(np.int64)
    return np.asarray(micros, dtype=np.int64)


def _label(series: pd.Series, position: int) -> object:
    """The index label of a row, as a plain Python value (``5``, not ``np.int64(5)``)."""
    label = series.index[position]
    return label.item() if isinstance(label, np.generic) else label


def _missing_time(series: pd.Series, column: str, position: int) -> None:
    label = _label(series, position)
    raise EntityFrameError(
        f"Row {label!r} of the entity frame has no timestamp in {column!r} "
        f"({series.iloc[position]!r}).",
        hint="Fill in or drop the rows without a time: each row's features are read as of it.",
        column=column,
        row=repr(label),
    )


def _parse_objects(series: pd.Series, column: str) -> np.ndarray[Any, Any]:
    """Datetimes, dates and ISO strings, all naive or all aware, as naive UTC datetime64."""
    parsed: list[datetime] = []
    aware_first: bool | None = None
    for position, value in enumerate(series.to_numpy(dtype=object)):
        moment = _moment(value)
        if moment is None:
            if isinstance(value, str):
                label = _label(series, position)
                raise EntityFrameError(
                    f"Row {label!r} of the entity frame: {value!r} in {column!r} is not an "
                    "ISO 8601 timestamp.",
                    hint="Write timestamps like '2024-05-01T12:00:00Z', or convert the "
                    "column with pd.to_datetime.",
                    column=column,
                    row=repr(label),
                    value=value[:200],
                )
            if _is_missing(value):
                _missing_time(series, column, position)
            label = _label(series, position)
            raise EntityFrameError(
                f"Row {label!r} of the entity frame: {value!r} ({type(value).__name__}) in "
                f"{column!r} is not a timestamp.",
                hint="Give datetimes or ISO 8601 strings, or convert the column with "
                "pd.to_datetime.",
                column=column,
                row=repr(label),
                value=repr(value)[:200],
            )
        aware = moment.tzinfo is not None and moment.utcoffset() is not None
        if aware_first is None:
            aware_first = aware
        elif aware != aware_first:
            label = _label(series, position)
            kinds = ("tz-aware", "tz-naive") if aware else ("tz-naive", "tz-aware")
            raise EntityFrameError(
                f"The timestamps in {column!r} mix tz-naive and tz-aware values: row "
                f"{label!r} holds {value!r} ({kinds[0]}) after {kinds[1]} rows.",
                hint="Make them all tz-aware or all tz-naive (naive ones are read as UTC); "
                "pd.to_datetime(column, utc=True) does the former.",
                column=column,
                row=repr(label),
                value=repr(value)[:200],
            )
        parsed.append(moment)
    if not parsed:
        return np.array([], dtype="datetime64[us]")
    index = pd.to_datetime(parsed, utc=True) if aware_first else pd.to_datetime(parsed)
    if aware_first:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy()


def _moment(value: object) -> datetime | None:
    if value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _is_missing(value: object) -> bool:
    return (
        value is None
        or value is pd.NaT
        or value is pd.NA
        or (isinstance(value, float) and math.isnan(value))
    )
