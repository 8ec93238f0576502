"""Profiling a table one record batch at a time, in bounded memory.

The same profile as :func:`~conveyor.data._profile.compute_profile`, from a stream of
batches (``pyarrow.parquet.ParquetFile.iter_batches``, a streaming CSV reader). Batches
are kept while they total at most ``exact_bytes``: such a table is profiled exactly, the
same result as profiling it in memory. Past that, every column is summarised by mergeable
statistics and the batches are dropped:

* counts, nulls, non-finite values, minimum and maximum: exact;
* mean and standard deviation: merged per batch (Chan et al.'s parallel Welford);
* quantiles and the histogram: from a uniform bottom-k sample (:data:`SAMPLE_SIZE`
  values; the histogram's counts are scaled to the column's count);
* distinct counts: a k-minimum-values estimate over 64-bit hashes (``distinct_exact``
  is then false);
* top values: exact counts while a column has at most :data:`TOP_CAPACITY` distinct
  values, then the most frequent half is kept (counts become lower bounds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from conveyor.data._profile import (
    HISTOGRAM_BINS,
    PROFILE_FORMAT,
    TOP_VALUES,
    _num,
    _quantiles,
    _scalar,
    compute_profile,
)

#: Tables up to this many bytes in Arrow memory are profiled exactly.
EXACT_BYTES = 64 * 1024 * 1024
#: Values kept per numeric column for quantiles and the histogram.
SAMPLE_SIZE = 65_536
#: Hashes kept per column by the distinct-count estimate.
KMV_SIZE = 4_096
#: Distinct values counted per string or boolean column before pruning.
TOP_CAPACITY = 100_000
#: Rows per batch read from a file.
BATCH_ROWS = 65_536

_U64 = np.uint64
_MASK = 0xFFFFFFFFFFFFFFFF


def _mix(values: np.ndarray[Any, np.dtype[np.uint64]]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """splitmix64's finaliser: well-spread 64-bit hashes of 64-bit keys."""
    with np.errstate(over="ignore"):
        z = values + _U64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return z ^ (z >> _U64(31))


def _hashes(values: pa.Array) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """64-bit hashes of the non-null values (stable across processes and runs)."""
    values = values.drop_null()
    kind = values.type
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        floats = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        return _mix(np.ascontiguousarray(floats, dtype=np.float64).view(_U64))
    if pa.types.is_integer(kind) or pa.types.is_temporal(kind) or pa.types.is_boolean(kind):
        ints = pc.cast(values, pa.int64()) if not pa.types.is_boolean(kind) else values
        array = np.asarray(ints.to_numpy(zero_copy_only=False)).astype(np.int64)
        return _mix(array.view(_U64))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _string_hashes(pc.cast(pc.unique(values), pa.large_string()))
    unique = pc.unique(values).to_pylist()
    digests = [
        int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "little")
        for v in unique
    ]
    return np.array(digests, dtype=_U64)


def _string_hashes(values: pa.LargeStringArray) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """64-bit hashes of strings, vectorised: a polynomial over the UTF-8 bytes of each
    value (wrapping at 2**64), mixed with its length by splitmix64's finaliser."""
    count = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[
        values.offset : values.offset + count + 1
    ]
    data_buffer = values.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else None
    lengths = np.diff(offsets)
    sums = np.zeros(count, dtype=_U64)
    filled = lengths > 0
    if data is not None and filled.any():
        data = data[offsets[0] : offsets[-1]]
        starts = offsets[:-1] - offsets[0]
        position = np.arange(data.size) - np.repeat(starts, lengths)
        powers = np.full(int(lengths.max()), _U64(0x100000001B3), dtype=_U64)
        powers[0] = 1
        with np.errstate(over="ignore"):
            powers = np.cumprod(powers, dtype=_U64)
            terms = (data.astype(_U64) + _U64(1)) * powers[position]
        sums[filled] = np.add.reduceat(terms, starts[filled], dtype=_U64)
    return _mix(sums ^ _mix(lengths.astype(_U64)))


class _Distinct:
    """k-minimum-values estimate of a count of distinct values."""

    def __init__(self) -> None:
        self.kept = np.empty(0, dtype=_U64)

    def add(self, hashes: np.ndarray[Any, np.dtype[np.uint64]]) -> None:
        if self.kept.size == KMV_SIZE:  # only hashes below the k-th smallest can enter
            hashes = hashes[hashes < self.kept[-1]]
            if hashes.size == 0:
                return
        merged = np.unique(np.concatenate((self.kept, hashes)))
        self.kept = merged[:KMV_SIZE]

    def estimate(self) -> int:
        if self.kept.size < KMV_SIZE:
            return int(self.kept.size)
        kth = float(self.kept[-1]) / float(_MASK)
        return round((KMV_SIZE - 1) / kth)


def _ranked(counts: pa.Table) -> pa.Table:
    """Most frequent first; ties broken by value, so the same data gives the same profile."""
    return counts.sort_by([("counts", "descending"), ("values", "ascending")])


class _Column:
    """Mergeable statistics of one column."""

    def __init__(self, kind: pa.DataType) -> None:
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        self.kind = kind
        self.numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        self.numeric = self.numeric or pa.types.is_decimal(kind)
        self.counted = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        self.counted = self.counted or pa.types.is_boolean(kind)
        self.temporal = pa.types.is_temporal(kind)
        self.nulls = 0
        self.non_finite = 0
        self.n = 0  # finite numeric values
        self.mean = 0.0
        self.m2 = 0.0
        self.low: Any = None
        self.high: Any = None
        self.sample_keys = np.empty(0, dtype=np.float64)
        self.sample = np.empty(0, dtype=np.float64)
        self.counts: pa.Table | None = None  # "values", "counts"
        self.pruned = False
        self.distinct = _Distinct()
        self.random = np.random.default_rng(0)

    def add(self, column: pa.Array) -> None:
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        self.nulls += column.null_count
        if self.numeric or self.temporal or self.counted:
            self.distinct.add(_hashes(column))
        if self.numeric:
            self._add_numbers(column)
        elif self.counted:
            self._add_counts(column)
        elif self.temporal and len(column) > column.null_count:
            self._add_range(pc.min_max(column))

    def _add_range(self, minmax: pa.StructScalar) -> None:
        low, high = minmax["min"].as_py(), minmax["max"].as_py()
        if low is None:
            return
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def _add_numbers(self, column: pa.Array) -> None:
        valid = column.drop_null()
        if pa.types.is_decimal(valid.type):
            valid = pc.cast(valid, pa.float64())
        values = np.asarray(valid.to_numpy(zero_copy_only=False)).astype(np.float64)
        finite = values[np.isfinite(values)]
        self.non_finite += int(values.size - finite.size)
        if finite.size == 0:
            return
        if pa.types.is_integer(valid.type):  # exact even beyond 2**53
            self._add_range(pc.min_max(valid))
        else:
            low, high = float(finite.min()), float(finite.max())
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)
        with np.errstate(over="ignore", invalid="ignore"):
            count, mean = finite.size, float(finite.mean())
            m2 = float(((finite - mean) ** 2).sum())
            total = self.n + count
            delta = mean - self.mean
            self.mean += delta * count / total
            self.m2 += m2 + delta * delta * self.n * count / total
        self.n = total
        keys = self.random.random(finite.size)
        keys = np.concatenate((self.sample_keys, keys))
        values = np.concatenate((self.sample, finite))
        if keys.size > SAMPLE_SIZE:
            keep = np.argpartition(keys, SAMPLE_SIZE)[:SAMPLE_SIZE]
            keys, values = keys[keep], values[keep]
        self.sample_keys, self.sample = keys, values

    def _add_counts(self, column: pa.Array) -> None:
        # Counts merge in Arrow (a hash aggregation), not in a Python dict: a column of
        # mostly distinct strings would otherwise cost a Python step per value.
        counts = pa.Table.from_struct_array(pc.value_counts(column.drop_null()))
        if self.counts is not None:
            merged = pa.concat_tables([self.counts, counts]).group_by("values")
            summed = merged.aggregate([("counts", "sum")])
            counts = pa.table({"values": summed["values"], "counts": summed["counts_sum"]})
        if counts.num_rows > TOP_CAPACITY:
            counts = _ranked(counts).slice(0, TOP_CAPACITY // 2)
            self.pruned = True
        self.counts = counts

    def profile(self, type_name: str, rows: int) -> dict[str, Any]:
        non_null = rows - self.nulls
        out: dict[str, Any] = {
            "type": type_name,
            "count": non_null,
            "nulls": self.nulls,
            "null_share": self.nulls / rows if rows else None,
        }
        if self.numeric:
            out["kind"] = "numeric"
            out.update(self._numeric())
        elif self.counted:
            out["kind"] = "boolean" if pa.types.is_boolean(self.kind) else "categorical"
            out.update(self._top(non_null))
        elif self.temporal:
            out["kind"] = "temporal"
            out["min"], out["max"] = _scalar(self.low), _scalar(self.high)
            out["distinct"] = self.distinct.estimate()
            out["distinct_exact"] = False
        else:
            out["kind"] = "other"
        return out

    def _numeric(self) -> dict[str, Any]:
        out: dict[str, Any] = {"non_finite": self.non_finite}
        out["distinct"] = self.distinct.estimate()
        out["distinct_exact"] = False
        if self.n == 0:
            out.update(min=None, max=None, mean=None, std=None, quantiles=None, histogram=None)
            return out
        out["min"], out["max"] = _scalar(self.low), _scalar(self.high)
        out["mean"] = _num(self.mean)
        out["std"] = _num((self.m2 / (self.n - 1)) ** 0.5) if self.n > 1 else None
        ordered = np.sort(self.sample)
        out["quantiles"] = _quantiles(ordered)
        out["histogram"] = self._histogram(ordered)
        return out

    def _histogram(self, ordered: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, list[Any]]:
        lo, hi = float(self.low), float(self.high)
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
        cuts = np.searchsorted(ordered, edges[1:-1], side="left")
        sampled = np.diff(np.concatenate(([0], cuts, [ordered.size])))
        # Scale the sample's counts to the column's, keeping their sum exact.
        scaled = np.floor(sampled * self.n / ordered.size).astype(np.int64)
        remainder = self.n - int(scaled.sum())
        order = np.argsort(-(sampled * self.n / ordered.size - scaled), kind="stable")
        scaled[order[:remainder]] += 1
        return {"edges": [_num(e) for e in edges], "counts": [int(c) for c in scaled]}

    def _top(self, non_null: int) -> dict[str, Any]:
        counts = self.counts if self.counts is not None else pa.table({"values": [], "counts": []})
        top = _ranked(counts).slice(0, TOP_VALUES)
        entries = [
            {"value": _scalar(value), "count": count, "share": count / non_null}
            for value, count in zip(
                top["values"].to_pylist(), top["counts"].to_pylist(), strict=True
            )
        ]
        shown = sum(entry["count"] for entry in entries)
        exact = not self.pruned
        distinct = counts.num_rows if exact else max(self.distinct.estimate(), counts.num_rows)
        return {
            "distinct": distinct,
            "top": entries,
            "other": non_null - shown,
            "distinct_exact": exact,
        }


def profile_batches(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], *, exact_bytes: int = EXACT_BYTES
) -> dict[str, Any]:
    """The profile of the table made of ``batches`` (see the module docstring).

    Args:
        schema: The batches' schema.
        batches: The table's rows, in any number of batches.
        exact_bytes: Tables up to this size in Arrow memory are profiled exactly.

    Returns:
        The same format as :func:`~conveyor.data._profile.compute_profile`.
    """
    kept: list[pa.RecordBatch] = []
    kept_bytes = 0
    columns: list[_Column] | None = None
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        if columns is None:
            kept.append(batch)
            kept_bytes += batch.nbytes
            if kept_bytes <= exact_bytes:
                continue
            columns = [_Column(field.type) for field in schema]
            pending, kept = kept, []
        else:
            pending = [batch]
        for item in pending:
            for column, array in zip(columns, item.columns, strict=True):
                column.add(array)
    if columns is None:
        return compute_profile(pa.Table.from_batches(kept, schema=schema))
    return {
        "format": PROFILE_FORMAT,
        "row_count": rows,
        "schema": {field.name: str(field.type) for field in schema},
        "columns": {
            field.name: column.profile(str(field.type), rows)
            for field, column in zip(schema, columns, strict=True)
        },
    }


def profile_table_file(path: str | Path, *, exact_bytes: int = EXACT_BYTES) -> dict[str, Any]:
    """Profile a Parquet or CSV file reading one batch at a time.

    A 10 GB Parquet table is read one batch (:data:`BATCH_ROWS` rows) at a time and never
    sits in memory; a CSV file is read by pyarrow's streaming reader.
    """
    from conveyor.data._table_paths import CSV_SUFFIXES

    path = Path(path)
    if path.suffix.lower() in CSV_SUFFIXES:
        import pyarrow.csv as pacsv

        reader = pacsv.open_csv(path)
        return profile_batches(reader.schema, reader, exact_bytes=exact_bytes)
    import pyarrow.parquet as pq

    # pre_buffer reads whole row groups ahead: without it only the batch read is held.
    with pq.ParquetFile(path, pre_buffer=False) as parquet:
        batches = parquet.iter_batches(batch_size=BATCH_ROWS)
        return profile_batches(parquet.schema_arrow, batches, exact_bytes=exact_bytes)
