"""One Parquet partition of the prediction log reduced to mergeable column summaries.

:func:`summarise_partition` reads one batch object (only the rows of the window, only
successful predictions) and reduces each monitored column to a :class:`ColumnPart`:
row and missing counts, the Arrow types seen, and the numeric sketch, category counts or
datetime range counts its reference calls for. Parts of the same column merge exactly
(:meth:`ColumnPart.merge`), so partitions can be summarised anywhere (threads, Ray
workers) and combined in any order. Labelled rows are kept as rows: they are few (labels
arrive for a sample of traffic) and the performance metrics and change detectors need
them in time order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.monitoring._features import column_kind
from conveyor.monitoring._reference import NumericReference, reference_from_profile
from conveyor.monitoring._sketch import NumericSketch

if TYPE_CHECKING:
    import pyarrow as pa

INPUT_PREFIX = "in_"
PREDICTION = "prediction"
_JSON_KEY = b"conveyor.json_columns"


@dataclass(frozen=True)
class ColumnPlan:
    """How to summarise one column, fixed before any partition is read.

    Attributes:
        source: Column name in the log (``in_<feature>`` or ``prediction``).
        reference_kind: The profile's kind for the column (``None``: no reference).
        points: Sorted points whose ranks numeric sketches count exactly.
        reference_min: Start of the reference range of a datetime column (ISO text).
        reference_max: End of the reference range of a datetime column (ISO text).
        probe: Keep exact value counts of numbers only when a first look finds few
            distinct values (``False``: up to the limit, as a profile's distinct count
            needs).
    """

    source: str
    reference_kind: str | None
    points: Any = field(default_factory=lambda: np.zeros(0))
    reference_min: Any = None
    reference_max: Any = None
    probe: bool = True


def plan_column(source: str, profile_column: dict[str, Any] | None) -> ColumnPlan:
    """The plan of one column from its profile entry (or ``None``)."""
    if profile_column is None:
        return ColumnPlan(source, None)
    kind = profile_column.get("kind")
    reference = reference_from_profile(profile_column)
    if isinstance(reference, NumericReference):
        return ColumnPlan(source, kind, reference_points(reference))
    if kind == "temporal":
        return ColumnPlan(
            source,
            kind,
            reference_min=profile_column.get("min"),
            reference_max=profile_column.get("max"),
        )
    return ColumnPlan(source, kind)


def reference_points(reference: NumericReference) -> Any:
    """The points a numeric reference's tests ask ranks at: edges, quantiles, extremes."""
    quantiles = [value for _, value in reference.quantiles]
    candidates = np.concatenate(
        [reference.edges, np.array([reference.min, reference.max, *quantiles])]
    )
    return np.unique(candidates[np.isfinite(candidates)])


@dataclass
class ColumnPart:
    """What the partitions seen so far hold of one column (merge with :meth:`merge`).

    Attributes:
        rows: Window rows (with or without the column).
        present: Whether any partition has the column.
        missing: Null or NaN values, plus rows of partitions without the column.
        nulls: Null values, plus rows of partitions without the column.
        types: Arrow types of the column, as text.
        kinds: Kinds of those types (``numeric``, ``categorical``, ...).
        numeric: The sketch of finite numbers.
        counts: Counts of non-null categories.
        temporal: ``present``, ``valid``, ``before``, ``after`` counts of a datetime column.
        error: Why a partition's values could not be read (first one found).
    """

    rows: int = 0
    present: bool = False
    missing: int = 0
    nulls: int = 0
    types: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    numeric: NumericSketch | None = None
    counts: Counter[Any] = field(default_factory=Counter)
    temporal: Counter[str] = field(default_factory=Counter)
    error: str | None = None

    def merge(self, other: ColumnPart) -> ColumnPart:
        """Combine with the part of the same column from other partitions."""
        numeric = self.numeric
        if other.numeric is not None:
            numeric = other.numeric if numeric is None else numeric.merge(other.numeric)
        return ColumnPart(
            rows=self.rows + other.rows,
            present=self.present or other.present,
            missing=self.missing + other.missing,
            nulls=self.nulls + other.nulls,
            types=_union(self.types, other.types),
            kinds=_union(self.kinds, other.kinds),
            numeric=numeric,
            counts=self.counts + other.counts,
            temporal=self.temporal + other.temporal,
            error=self.error or other.error,
        )


@dataclass
class WindowPart:
    """The summary of one or more partitions of a window (merge with :meth:`merge`).

    Attributes:
        rows: Successful predictions.
        first_at: Time of the oldest of them.
        last_at: Time of the newest of them.
        columns: One part per planned column (features and ``prediction``).
        other_inputs: Input columns found that are not planned features.
        labelled: Rows with a label: ``at``, ``request_id``, ``prediction``, ``label``.
    """

    rows: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    columns: dict[str, ColumnPart] = field(default_factory=dict)
    other_inputs: list[str] = field(default_factory=list)
    labelled: list[tuple[Any, ...]] = field(default_factory=list)

    def merge(self, other: WindowPart) -> WindowPart:
        """Combine with the summary of other partitions of the same window."""
        names = list(dict.fromkeys([*self.columns, *other.columns]))
        return WindowPart(
            rows=self.rows + other.rows,
            first_at=_extreme(min, self.first_at, other.first_at),
            last_at=_extreme(max, self.last_at, other.last_at),
            columns={
                name: self.columns.get(name, ColumnPart()).merge(
                    other.columns.get(name, ColumnPart())
                )
                for name in names
            },
            other_inputs=_union(self.other_inputs, other.other_inputs),
            labelled=self.labelled + other.labelled,
        )


def summarise_partition(
    table: pa.Table,
    plans: dict[str, ColumnPlan],
    *,
    labels: dict[str, Any] | None = None,
    lookup: Callable[[list[str]], dict[str, Any]] | None = None,
    column_names: Sequence[str] | None = None,
) -> WindowPart:
    """Summarise the window rows of one decoded batch.

    Args:
        table: The batch, already cut to the window's time range.
        plans: ``{column name in the report: plan}``.
        labels: ``{request_id: label}`` of the window's labelled predictions.
        lookup: Without ``labels``: returns the labels of the given request ids.
        column_names: The batch's columns, when ``table`` holds only those summarised.

    Returns:
        The partition's summary.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if "status" in table.column_names:
        table = table.filter(pc.fill_null(pc.equal(table["status"], "ok"), True))
    rows = table.num_rows
    part = WindowPart(rows=rows)
    if rows == 0:
        part.columns = {name: ColumnPart() for name in plans}
        return part
    stamps = pc.min_max(table["at"])
    part.first_at, part.last_at = stamps["min"].as_py(), stamps["max"].as_py()
    json_columns = _json_columns(table)
    sources = {plan.source for plan in plans.values()}
    part.other_inputs = sorted(
        name[len(INPUT_PREFIX) :]
        for name in (table.column_names if column_names is None else column_names)
        if name.startswith(INPUT_PREFIX) and name not in sources
    )
    for name, plan in plans.items():
        if plan.source not in table.column_names:
            part.columns[name] = ColumnPart(rows=rows, missing=rows, nulls=rows)
            continue
        column = table[plan.source]
        try:
            array = (
                _from_json(table, plan.source)
                if plan.source in json_columns
                else column.combine_chunks()
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError) as exc:
            part.columns[name] = ColumnPart(rows=rows, present=True, error=str(exc))
            continue
        part.columns[name] = _column(array, plan, rows)
    if labels is None and lookup is not None and "request_id" in table.column_names:
        labels = lookup(table["request_id"].to_pylist())
    labels = {rid: label for rid, label in (labels or {}).items() if label is not None}
    if labels and "request_id" in table.column_names:
        part.labelled = _labelled(table, labels)
    return part


def _column(array: pa.Array, plan: ColumnPlan, rows: int) -> ColumnPart:
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):
        array = pc.cast(array, array.type.value_type)
    kind = column_kind(array.type)
    nulls = int(array.null_count)
    missing = nulls
    if pa.types.is_floating(array.type):
        missing += int(pc.sum(pc.is_nan(array)).as_py() or 0)
    part = ColumnPart(
        rows=rows,
        present=True,
        missing=missing,
        nulls=nulls,
        types=[str(array.type)],
        kinds=[kind],
    )
    if plan.reference_kind == "temporal":
        part.temporal = _temporal(array, plan)
    elif kind == "numeric" and (plan.reference_kind in ("numeric", None)):
        values = pc.drop_null(array).to_numpy(zero_copy_only=False).astype(np.float64)
        finite = values[np.isfinite(values)]
        part.numeric = NumericSketch.of(finite, plan.points, probe=plan.probe)
    elif kind in ("categorical", "boolean"):
        pairs = pc.value_counts(pc.drop_null(array))
        values = pairs.field("values").to_pylist()
        part.counts = Counter(dict(zip(values, pairs.field("counts").to_pylist(), strict=True)))
    return part


def _temporal(array: pa.Array, plan: ColumnPlan) -> Counter[str]:
    import pandas as pd

    from conveyor.monitoring._features import utc_stamp

    series = array.to_pandas()
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        parsed = pd.to_datetime(series, utc=True)
    else:
        parsed = pd.to_datetime(
            series.astype("object"), utc=True, errors="coerce", format="ISO8601"
        )
    valid = parsed.dropna()
    lo, hi = utc_stamp(plan.reference_min), utc_stamp(plan.reference_max)
    return Counter(
        present=int(series.notna().sum()),
        valid=len(valid),
        before=int((valid < lo).sum()) if lo is not None else 0,
        after=int((valid > hi).sum()) if hi is not None else 0,
    )


def _labelled(table: pa.Table, labels: dict[str, Any]) -> list[tuple[Any, ...]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from conveyor.predictions._parquet import to_frame

    ids = table["request_id"]
    mask = pc.is_in(ids, value_set=pa.array(list(labels), pa.string()))
    kept = table.filter(mask)
    if kept.num_rows == 0:
        return []
    columns = ["at", "request_id"] + ([PREDICTION] if PREDICTION in kept.column_names else [])
    frame = to_frame(kept.select(columns).replace_schema_metadata(kept.schema.metadata))
    predictions = frame[PREDICTION].tolist() if PREDICTION in frame else [None] * len(frame)
    return [
        (at, request_id, prediction, labels[request_id])
        for at, request_id, prediction in zip(
            frame["at"].tolist(), frame["request_id"].tolist(), predictions, strict=True
        )
    ]


def _json_columns(table: pa.Table) -> set[str]:
    import json

    return set(json.loads((table.schema.metadata or {}).get(_JSON_KEY, b"[]")))


def _from_json(table: pa.Table, name: str) -> pa.Array:
    """A JSON-text column as the single-pass engine sees it: decoded values, re-typed."""
    import pyarrow as pa

    from conveyor.predictions._parquet import to_frame

    frame = to_frame(table.select([name]).replace_schema_metadata(table.schema.metadata))
    return pa.array(frame[name], from_pandas=True)


def _union(first: list[str], second: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *second]))


def _extreme(pick: Any, first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    result: datetime = pick(first, second)
    return result
