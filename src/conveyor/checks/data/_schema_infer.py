"""Inferring a pandera schema from a dataset version: what a valid next version looks like.

The inferred document is plain JSON: pandera's own serialisation of a ``DataFrameSchema``
under ``"pandera"`` (types, nullability, ranges, allowed categories, uniqueness) plus the
row-count bounds pandera cannot serialise, and the options it was inferred with, so a stored
schema can be read back, diffed and rebuilt without the data it came from.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from conveyor.checks.data._frames import column_kind
from conveyor.checks.data._outcome import json_value
from conveyor.errors import ConfigError

SCHEMA_FORMAT = 1
#: Default widening of numeric ranges, as a share of the observed span on each side. With
#: none, a new sample of the same source fails about half the time: its extremes exceed the
#: reference's as often as not. A quarter of the span lets natural samples through (29 of
#: 30 random halves of palmerpenguins) while a value ten times outside still fails.
DEFAULT_TOLERANCE = 0.25
_ID_NAME = re.compile(r"(^|[_\-.])(id|uuid|key)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Key)$")


@dataclass(frozen=True)
class InferOptions:
    """How a schema is inferred.

    Attributes:
        tolerance: Widen each numeric range by this share of its observed span on both
            sides (default :data:`DEFAULT_TOLERANCE`, a quarter: a column observed in
            10..30 accepts 5..35; integer ranges widen outwards to whole numbers; 0 keeps
            the observed min and max).
        max_categories: A string column with at most this many distinct values gets an
            allowed-categories check.
        min_rows_factor: The lowest row count accepted, as a multiple of the reference's.
        max_rows_factor: The highest row count accepted, as a multiple of the reference's.
    """

    tolerance: float = DEFAULT_TOLERANCE
    max_categories: int = 50
    min_rows_factor: float = 0.5
    max_rows_factor: float = 2.0

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.tolerance, int | float) and self.tolerance >= 0):
            problems.append(f"tolerance must be a number >= 0, got {self.tolerance!r}")
        if not (isinstance(self.max_categories, int) and self.max_categories >= 1):
            problems.append(f"max_categories must be an integer >= 1, got {self.max_categories!r}")
        lo, hi = self.min_rows_factor, self.max_rows_factor
        if not (isinstance(lo, int | float) and isinstance(hi, int | float) and 0 <= lo <= 1 <= hi):
            problems.append(
                f"row-count factors must satisfy 0 <= min <= 1 <= max, got {lo!r} and {hi!r}"
            )
        if problems:
            raise ConfigError(
                "Invalid schema inference options: " + "; ".join(problems) + ".",
                hint="For example tolerance=0.1, max_categories=50, min_rows_factor=0.5, "
                "max_rows_factor=2.0.",
                problems=problems,
            )


def looks_like_id(name: str) -> bool:
    """Whether a column name reads like an identifier (``id``, ``order_id``, ``userId``)."""
    return bool(_ID_NAME.search(name) or _CAMEL_ID.search(name))


def widen_range(lo: float, hi: float, tolerance: float, integral: bool) -> tuple[float, float]:
    """``lo..hi`` widened by ``tolerance`` times its span on each side (outwards to whole
    numbers when ``integral``); a single observed value widens by a share of itself.

    The widening never crosses zero: a column observed non-negative (prices, counts,
    masses) stays non-negative, one observed non-positive stays non-positive. Widened
    bounds are rounded outwards to a hundredth of the margin (``26.77``, not
    ``26.775000000000002``); a margin too large for a float leaves the range as observed.
    """
    span = hi - lo if hi > lo else abs(hi)
    margin = tolerance * span
    if not (math.isfinite(margin) and math.isfinite(lo - margin) and math.isfinite(hi + margin)):
        return lo, hi
    lo, hi = (
        lo - margin if lo < 0 else max(lo - margin, 0.0),
        hi + margin if hi > 0 else min(hi + margin, 0.0),
    )
    if integral:
        return float(math.floor(lo)), float(math.ceil(hi))
    if margin > 0:
        exponent = math.floor(math.log10(margin)) - 2
        step = 10.0**exponent
        digits = max(0, -exponent)
        lo = round(math.floor(lo / step) * step, digits)
        hi = round(math.ceil(hi / step) * step, digits)
    return lo, hi


def _bound(value: float, integral: bool) -> int | float:
    return int(value) if integral else float(value)


def _column_stats(series: pd.Series, stats: dict[str, Any] | None) -> tuple[int, Any, Any]:
    """Nulls, min and max of a column: from its profile when given, else computed."""
    if stats is not None and "nulls" in stats:
        return int(stats["nulls"]), stats.get("min"), stats.get("max")
    nulls = int(series.isna().sum())
    if column_kind(series) != "numeric":
        return nulls, None, None
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return nulls, None, None
    return nulls, json_value(finite.min()), json_value(finite.max())


def _allowed_categories(values: Any) -> list[Any] | None:
    """The values an ``isin`` check accepts, as stored in JSON; ``None`` when they cannot be
    stored as they compare (timestamps in an object column, values of mixed types)."""
    if len(values) == 0:
        return None
    if all(isinstance(v, str) for v in values):
        return sorted(values)
    if all(isinstance(v, bool | np.bool_) for v in values):
        return sorted(bool(v) for v in values)
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_) for v in values):
        return sorted(int(v) for v in values)
    return None


def _infer_column(
    name: str, series: pd.Series, stats: dict[str, Any] | None, options: InferOptions
) -> pa.Column:
    kind = column_kind(series)
    nulls, lo, hi = _column_stats(series, stats)
    checks: list[pa.Check] = []
    # Identifiers (`session_id`, `user_id`) grow with new data: their observed range is
    # not an expectation, so they get none (uniqueness still applies below).
    if kind == "numeric" and lo is not None and hi is not None and not looks_like_id(name):
        integral = pd.api.types.is_integer_dtype(series.dtype)
        wlo, whi = widen_range(float(lo), float(hi), options.tolerance, integral)
        checks.append(pa.Check.in_range(_bound(wlo, integral), _bound(whi, integral)))
    elif kind == "categorical" and not looks_like_id(name):
        values = series.dropna().astype("object").unique()
        # Every value distinct reads as an identifier or free text, not a category set.
        all_distinct_values = len(values) > 1 and len(values) == len(series) - nulls
        allowed = _allowed_categories(values)
        if allowed and len(values) <= options.max_categories and not all_distinct_values:
            checks.append(pa.Check.isin(allowed))
    all_distinct = nulls == 0 and len(series) > 1 and bool(series.is_unique)
    unique = all_distinct and (
        looks_like_id(name) or (kind == "numeric" and pd.api.types.is_integer_dtype(series.dtype))
    )
    return pa.Column(series.dtype, checks=checks, nullable=nulls > 0, unique=unique, name=name)


def infer_frame_schema(
    frame: pd.DataFrame,
    profile: dict[str, Any] | None = None,
    options: InferOptions | None = None,
) -> dict[str, Any]:
    """Infer the schema document of a table.

    Types come from the frame's dtypes; a column is nullable iff nulls were seen; numeric
    columns get their observed range widened by ``options.tolerance`` (a quarter of the
    span on each side by default), datetime and boolean columns no range; string (and
    categorical, or object columns of booleans or integers) columns with at most
    ``options.max_categories`` distinct values get their allowed categories;
    a column is unique when its values are all distinct and it is named like an id or holds
    integers; the row count must stay within the factors of the reference's.

    Args:
        frame: The reference table.
        profile: Its profile (:func:`conveyor.data.compute_profile`); its null counts and
            ranges are used when present, else they are computed from ``frame``.
        options: Inference options (defaults: :class:`InferOptions`).

    Returns:
        ``{"format": 1, "pandera": {...}, "row_count": {"reference", "min", "max"},
        "options": {...}}``, JSON-serialisable.

    Example:
        >>> doc = infer_frame_schema(pd.DataFrame({"order_id": [1, 2], "x": [0.5, 2.0]}))
        >>> doc["row_count"]
        {'reference': 2, 'min': 1, 'max': 4}
    """
    options = options or InferOptions()
    profile_columns: dict[str, Any] = (profile or {}).get("columns") or {}
    columns = {
        str(name): _infer_column(str(name), frame[name], profile_columns.get(str(name)), options)
        for name in frame.columns
    }
    schema = pa.DataFrameSchema(columns, strict=False)
    rows = len(frame)
    return {
        "format": SCHEMA_FORMAT,
        "pandera": json.loads(schema.to_json() or "{}"),
        "row_count": {
            "reference": rows,
            # Rounded first so that 200 * 1.1 is 220, not 221 after float error.
            "min": math.floor(round(rows * options.min_rows_factor, 9)),
            "max": math.ceil(round(rows * options.max_rows_factor, 9)),
        },
        "options": asdict(options),
    }


def build_pandera(document: dict[str, Any]) -> pa.DataFrameSchema:
    """The pandera schema held in a schema document."""
    schema = pa.DataFrameSchema.from_json(json.dumps(document["pandera"]))
    if not isinstance(schema, pa.DataFrameSchema):  # pragma: no cover - from_json's union type
        raise TypeError(f"Expected a DataFrameSchema, got {type(schema).__name__}")
    return schema
