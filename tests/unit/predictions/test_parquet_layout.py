"""The Parquet layout of logged predictions: dictionaries only where values repeat.

Objects are written with a dictionary on the columns a write shares and on plain string
columns, not on request ids, times, latencies or numbers, and with min/max statistics
for ``at`` alone. Objects written before, with a
dictionary on every column, stay readable: the window reader and the monitoring reader
give the same rows from either layout (on palmerpenguins, through real SQLite).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import palmerpenguins
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from conveyor.core import Actor
from conveyor.monitoring._parts import plan_column
from conveyor.monitoring._summarise import summarise_window
from conveyor.predictions import PredictionBatch, PredictionLog, PredictionRecord
from conveyor.predictions._parquet import decode_batch, encode_batch, filter_batch
from conveyor.predictions._records import NewPartition
from conveyor.predictions._window import Window

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FEATURES = ("species", "island", "bill_length_mm", "body_mass_g", "year", "sex")


def penguin_batch(request_id: str, start: int, rows: int, **changes: Any) -> PredictionBatch:
    """``rows`` penguins as one request: strings, floats with NaN, integers, nulls."""
    frame = palmerpenguins.load_penguins().iloc[start : start + rows]
    columns: dict[str, Any] = {
        "species": frame["species"].tolist(),
        "island": frame["island"].tolist(),
        "bill_length_mm": frame["bill_length_mm"].to_numpy(dtype=np.float64),
        "body_mass_g": frame["body_mass_g"].to_numpy(dtype=np.float64),
        "year": frame["year"].to_numpy(dtype=np.int64),
        "sex": [None if pd.isna(v) else v for v in frame["sex"]],
    }
    fields: dict[str, Any] = {
        "request_id": request_id,
        "at": T0 + timedelta(seconds=start),
        "model": "penguins",
        "version": 1,
        "columns": columns,
        "predictions": frame["species"].tolist(),
        "latency_ms": 1.5 + start,
        "rows": rows,
    }
    fields.update(changes)
    return PredictionBatch(**fields)


def traffic() -> list[PredictionBatch]:
    """Three requests of 100 rows, one of a single row, one failed, one with JSON outputs."""
    return [
        penguin_batch("req-a", 0, 100),
        penguin_batch("req-b", 100, 100),
        penguin_batch("req-c", 200, 100, predictions=[{"p": [0.2, 0.8]}] * 100),
        penguin_batch("req-d", 300, 1),
        penguin_batch("req-e", 301, 43, predictions=[None] * 43, status="error", error="E: x"),
    ]


def legacy_bytes(data: bytes) -> bytes:
    """The same object as the writer stored it before: zstd, a dictionary on every column."""
    sink = pa.BufferOutputStream()
    pq.write_table(decode_batch(data), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def dictionary_columns(data: bytes) -> set[str]:
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    group = meta.row_group(0)
    return {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if group.column(i).has_dictionary_page
    }


def test_dictionaries_are_written_only_for_shared_and_string_columns() -> None:
    data = encode_batch(traffic()[:2])
    assert dictionary_columns(data) == {
        "model",
        "version",
        "environment",
        "variant",
        "revision",
        "status",
        "error",
        "in_species",
        "in_island",
        "in_sex",
        "prediction",
    }
    json_outputs = encode_batch(traffic()[2:3])  # JSON text: plain, like request ids
    assert "prediction" not in dictionary_columns(json_outputs)
    assert "request_id" not in dictionary_columns(json_outputs)


def test_statistics_are_written_for_the_time_column_alone() -> None:
    data = encode_batch(traffic())
    group = pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(0)
    with_statistics = {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if group.column(i).is_stats_set
    }
    assert with_statistics == {"at"}
    at = group.column(1).statistics  # request_id, at, ...
    assert (at.min, at.max) == (T0, T0 + timedelta(seconds=301))
    # The erase path rewrites objects with the same layout.
    table = decode_batch(data)
    kept = pq.ParquetFile(pa.BufferReader(filter_batch(table, [True] * table.num_rows)))
    kept_group = kept.metadata.row_group(0)
    assert [kept_group.column(i).is_stats_set for i in range(kept_group.num_columns)].count(
        True
    ) == 1


def test_row_ids_of_batches_and_single_rows_are_built_as_the_records_name_them() -> None:
    items: list[PredictionBatch | PredictionRecord] = [*traffic()]
    items.insert(1, traffic()[3].records()[0])  # a record between batches
    islands = palmerpenguins.load_penguins()["island"].tolist() * 8  # 2,752 rows
    long_id = "req-" + "x" * 120
    items.append(  # more rows than the shared suffixes held so far
        PredictionBatch(long_id, T0, "penguins", 1, {"island": islands}, islands, 1.0, rows=2752)
    )
    stored = decode_batch(encode_batch(items)).column("request_id").to_pylist()
    expected = [
        item.request_id if isinstance(item, PredictionRecord) else rid
        for item in items
        for rid in ([item.request_id] if isinstance(item, PredictionRecord) else item.request_ids())
    ]
    assert stored == expected
    assert stored[:2] == ["req-a:0", "req-a:1"]
    assert stored[100] == "req-d"
    assert stored[-1] == long_id + ":2751"


def test_objects_of_the_earlier_layout_read_back_as_the_current_ones(
    logs: Callable[[str], PredictionLog],
) -> None:
    current, earlier = logs("current"), logs("earlier")
    current.write(traffic())
    for partition in current.records.partitions():
        data = current.artifacts.get_bytes(partition.content_hash)
        old = legacy_bytes(data)
        assert old != data
        assert "request_id" in dictionary_columns(old)
        assert "request_id" not in dictionary_columns(data)
        digest = earlier.artifacts.put_bytes(old).hash
        fields = {k: getattr(partition, k) for k in NewPartition.__dataclass_fields__}
        fields["content_hash"] = digest
        earlier.records.add_partitions(Actor("server"), [NewPartition(**fields)])

    # The window reader: the same frame, row for row, value for value.
    frame = current.read(model="penguins").drop(columns=["label_at"])
    pd.testing.assert_frame_equal(frame, earlier.read(model="penguins").drop(columns=["label_at"]))
    assert len(frame) == 344
    assert frame["request_id"].is_unique

    # The monitoring reader: the same summary of the window.
    def summary(log: PredictionLog) -> Any:
        window = Window("penguins", 1, since=T0, until=T0 + timedelta(hours=1))
        plans = {name: plan_column("in_" + name, None) for name in FEATURES}
        plans["prediction"] = plan_column("prediction", None)
        batches = [(p.content_hash, False) for p in log.records.partitions(model="penguins")]
        return summarise_window(
            log.artifacts.get_bytes, batches, window, plans, {}, executor="local"
        )

    now, before = summary(current), summary(earlier)
    assert now.rows == before.rows == 301  # the failed request's rows are not summarised
    assert pickle.dumps(now) == pickle.dumps(before)  # every count, sketch and label row


def test_an_erased_object_is_rewritten_in_the_current_layout(
    logs: Callable[[str], PredictionLog],
) -> None:
    log = logs("erase")
    log.write(traffic()[:2])
    (partition,) = log.records.partitions()
    table = decode_batch(log.artifacts.get_bytes(partition.content_hash))
    keep = [island != "Torgersen" for island in table.column("in_island").to_pylist()]
    rewritten = filter_batch(table, keep)
    assert dictionary_columns(rewritten) == dictionary_columns(encode_batch(traffic()[:2]))
    assert decode_batch(rewritten).equals(table.filter(pa.array(keep)))
