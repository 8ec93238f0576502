"""Column statistics of a table: the reference that diffs and drift monitoring compare against.

Everything is computed with ``pyarrow.compute`` and NumPy on whole columns (no Python loop
over rows). The result is plain JSON with no NaN or infinity (missing values are ``null``),
so it can be stored in the metadata store and in manifests as is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PROFILE_FORMAT = 1
HISTOGRAM_BINS = 20
TOP_VALUES = 20
QUANTILES: dict[str, float] = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}


def _num(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become ``None``."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _scalar(value: Any) -> Any:
    """A JSON-safe Python value of an Arrow/NumPy scalar (temporal values as ISO text)."""
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | np.floating):
        return _num(value)
    if isinstance(value, np.integer):
        return int(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _top_values(values: pa.ChunkedArray, non_null: int) -> dict[str, Any]:
    counts = pa.Table.from_struct_array(pc.value_counts(pc.drop_null(values)))
    # Most frequent first; ties broken by value so that the same data gives the same profile.
    top = counts.sort_by([("counts", "descending"), ("values", "ascending")]).slice(0, TOP_VALUES)
    entries = [
        {"value": _scalar(value), "count": int(count), "share": int(count) / non_null}
        for value, count in zip(
            top.column("values").to_pylist(), top.column("counts").to_pylist(), strict=True
        )
    ]
    shown = sum(entry["count"] for entry in entries)
    return {"distinct": counts.num_rows, "top": entries, "other": non_null - shown}


def _quantiles(ordered: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, float | None]:
    """Linear-interpolation quantiles (NumPy's default method) of already sorted values."""
    last = ordered.size - 1
    out: dict[str, float | None] = {}
    for key, q in QUANTILES.items():
        pos = q * last
        lo = math.floor(pos)
        hi = min(lo + 1, last)
        out[key] = _num(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo))
    return out


def _histogram(ordered: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, list[Any]]:
    """``numpy.histogram``-compatible 20-bin histogram of already sorted values."""
    lo, hi = float(ordered[0]), float(ordered[-1])
    if lo == hi:  # same widening as numpy.histogram for a single distinct value
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    # Bins are [left, right) except the last, which includes the maximum.
    cuts = np.searchsorted(ordered, edges[1:-1], side="left")
    counts = np.diff(np.concatenate(([0], cuts, [ordered.size])))
    return {"edges": [_num(e) for e in edges], "counts": [int(c) for c in counts]}


def _numeric(column: pa.ChunkedArray) -> dict[str, Any]:
    valid = pc.drop_null(column)
    values = valid.to_numpy().astype(np.float64, copy=False)
    # One sort serves quantiles, the histogram and an exact distinct count, which is
    # cheaper than a hash-based count on floats and needs no estimate.
    ordered = np.sort(values[np.isfinite(values)])
    out: dict[str, Any] = {"non_finite": int(values.size - ordered.size)}
    distinct = int(np.count_nonzero(np.diff(ordered))) + 1 if ordered.size else 0
    out["distinct"] = distinct + int(np.unique(values[~np.isfinite(values)]).size)
    out["distinct_exact"] = True
    if ordered.size == 0:
        out.update(min=None, max=None, mean=None, std=None, quantiles=None, histogram=None)
        return out
    if pa.types.is_integer(valid.type):  # exact even beyond 2**53
        minmax = pc.min_max(valid)
        out["min"], out["max"] = _scalar(minmax["min"]), _scalar(minmax["max"])
    else:
        out["min"], out["max"] = _num(ordered[0]), _num(ordered[-1])
    # Values near the float limits overflow sums and bin widths; such results become null.
    with np.errstate(over="ignore", invalid="ignore"):
        out["mean"] = _num(ordered.mean())
        out["std"] = _num(ordered.std(ddof=1)) if ordered.size > 1 else None
        out["quantiles"] = _quantiles(ordered)
        out["histogram"] = _histogram(ordered)
    return out


def _column_profile(column: pa.ChunkedArray, rows: int) -> dict[str, Any]:
    type_name = str(column.type)
    if pa.types.is_dictionary(column.type):  # categories: profile the decoded values
        column = pc.cast(column, column.type.value_type)
    col_type = column.type
    nulls = int(column.null_count)
    non_null = rows - nulls
    out: dict[str, Any] = {
        "type": type_name,
        "count": non_null,
        "nulls": nulls,
        "null_share": nulls / rows if rows else None,
    }
    if pa.types.is_integer(col_type) or pa.types.is_floating(col_type):
        out["kind"] = "numeric"
        out.update(_numeric(column))
    elif pa.types.is_decimal(col_type):
        out["kind"] = "numeric"
        out.update(_numeric(pc.cast(column, pa.float64())))
    elif pa.types.is_string(col_type) or pa.types.is_large_string(col_type):
        out["kind"] = "categorical"
        out.update(_top_values(column, non_null), distinct_exact=True)
    elif pa.types.is_boolean(col_type):
        out["kind"] = "boolean"
        out.update(_top_values(column, non_null), distinct_exact=True)
    elif pa.types.is_temporal(col_type):
        out["kind"] = "temporal"
        minmax = pc.min_max(column)
        out["min"] = _scalar(minmax["min"])
        out["max"] = _scalar(minmax["max"])
        out["distinct"] = int(pc.count_distinct(column).as_py())
        out["distinct_exact"] = True
    else:
        out["kind"] = "other"
    return out


def compute_profile(table: pa.Table) -> dict[str, Any]:
    """Profile every column of ``table``.

    Per column: ``type``, ``kind`` (numeric, categorical, boolean, temporal, other),
    ``count`` (non-null), ``nulls``, ``null_share``, ``distinct`` and ``distinct_exact``.
    Distinct counts are exact at every size: numeric columns are sorted once anyway (for
    quantiles and the histogram) and other columns are hashed for their top values, so an
    estimate would save nothing; ``distinct_exact`` says so for readers of the profile.
    Numeric columns add ``min``, ``max``, ``mean``, ``std`` (sample, ddof=1), ``quantiles``
    (p01 ... p99, over finite values), a 20-bin ``histogram`` (``edges``, ``counts``) and
    ``non_finite`` (NaN/infinity count, left out of the statistics). Strings, categories
    and booleans add ``top`` (up to 20 ``{"value", "count", "share"}``) and ``other`` (the
    count of non-null values outside the top list).

    Args:
        table: The table to profile.

    Returns:
        ``{"format": 1, "row_count": n, "schema": {column: arrow type}, "columns": {...}}``,
        JSON-serialisable with ``allow_nan=False``.

    Example:
        >>> profile = compute_profile(pa.table({"x": [1, 2, 3]}))
        >>> profile["columns"]["x"]["mean"]
        2.0
    """
    rows = table.num_rows
    return {
        "format": PROFILE_FORMAT,
        "row_count": rows,
        "schema": {name: str(table.schema.field(name).type) for name in table.column_names},
        "columns": {
            name: _column_profile(table.column(i), rows)
            for i, name in enumerate(table.column_names)
        },
    }
