"""Small conversions shared by the feature store's modules: scalars, times, identifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "as_utc",
    "from_online",
    "py_scalar",
    "py_timestamp",
    "quote_identifier",
    "to_online",
]


def py_scalar(value: Any) -> Any:
    """A numpy or pandas scalar as the Python scalar it holds."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_online(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    return py_scalar(value)


def from_online(value: Any, dtype: str) -> Any:
    if value is None:
        return None
    if dtype == "datetime":
        return pd.Timestamp(value)
    if dtype == "float64":
        return float(value)
    return value


def py_timestamp(value: Any) -> datetime | None:
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if value is None or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(UTC)
    return stamp.to_pydatetime()


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def quote_identifier(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'
