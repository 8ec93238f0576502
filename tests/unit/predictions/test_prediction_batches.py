"""A request's rows logged as one columnar batch are stored exactly as one record per row.

The contract: a :class:`PredictionBatch` and the :class:`PredictionRecord` objects it
stands for give the same Parquet bytes, the same ``PredictionLog.read`` frame, the same
request ids (``<id>:<i>``, so feedback joins), the same personal-data masking; the logger
counts rows, not objects; and a hostile batch is refused at construction or stored
without stopping the writer thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import palmerpenguins
import pandas as pd
import pytest

from conveyor.predictions import (
    InvalidPredictionRecordError,
    PiiPolicy,
    PredictionBatch,
    PredictionLog,
    PredictionLogger,
    PredictionRecord,
)
from conveyor.predictions._parquet import encode_batch
from conveyor.predictions._records import Loggable, as_records, row_count

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = b"a-long-random-secret-for-tests"


def penguin_columns(start: int, rows: int) -> dict[str, list[Any]]:
    """``rows`` penguins as columns: strings, floats with NaN, None, booleans, integers."""
    frame = palmerpenguins.load_penguins().iloc[start : start + rows]
    columns: dict[str, list[Any]] = {
        name: frame[name].tolist()
        for name in ("species", "island", "bill_length_mm", "body_mass_g", "year")
    }
    columns["sex"] = [None if pd.isna(v) else v for v in frame["sex"]]
    columns["heavy"] = [bool(v > 4000) for v in frame["body_mass_g"].fillna(0)]
    return columns


def batch(request_id: str, columns: Mapping[str, Any], **changes: Any) -> PredictionBatch:
    rows = len(next(iter(columns.values())))
    fields: dict[str, Any] = {
        "request_id": request_id,
        "at": T0 + timedelta(seconds=len(request_id)),
        "model": "penguins",
        "version": 1,
        "columns": columns,
        "predictions": [i % 3 for i in range(rows)],
        "latency_ms": 2.5,
        "rows": rows,
    }
    fields.update(changes)
    return PredictionBatch(**fields)


def requests() -> list[PredictionBatch]:
    """Requests of 100, 1 and 37 rows, one failed, with NaN, None and types that vary."""
    mixed = penguin_columns(100, 37)
    mixed["year"] = [2007.5] * 37  # floats here, integers in the other requests
    return [
        batch("req-a", penguin_columns(0, 100)),
        batch("req-b", penguin_columns(3, 1), predictions=[None], status="error", error="E: x"),
        batch("req-c", mixed, predictions=[{"p": [0.1, 0.9]}] * 37, variant="canary"),
    ]


def read(log: PredictionLog, **where: Any) -> pd.DataFrame:
    return log.read(**where).drop(columns=["label_at"]).reset_index(drop=True)


# -- the contract: same bytes, same frames -------------------------------------------------


def test_a_batch_and_its_rows_as_records_give_the_same_parquet_bytes() -> None:
    for item in requests():
        assert encode_batch([item]) == encode_batch(item.records())
    together = requests()[::2]  # one partition: two requests whose column types differ
    together[1] = batch("req-c", together[1].columns, predictions=together[1].predictions)
    assert encode_batch(together) == encode_batch(as_records(together))


def test_numpy_columns_are_stored_as_the_same_lists_would_be() -> None:
    columns = penguin_columns(0, 50)
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    arrays["sex"] = np.asarray(columns["sex"], dtype=object)
    as_lists = batch("req-a", columns)
    as_arrays = batch("req-a", arrays, predictions=np.arange(50) % 3)
    assert encode_batch([as_arrays]) == encode_batch([as_lists])


def test_batches_and_records_read_back_as_the_same_frame(
    logs: Callable[[str], PredictionLog],
) -> None:
    by_batch, by_row = logs("a"), logs("b")
    info = by_batch.write(requests())
    assert info.rows == 138
    assert sorted(p.rows for p in info.partitions) == [37, 101]
    assert by_row.write(as_records(requests())).rows == 138
    frame = read(by_batch)
    pd.testing.assert_frame_equal(frame, read(by_row))
    assert len(frame) == 138
    ids = frame["request_id"].tolist()
    assert {"req-b", "req-a:0", "req-a:99", "req-c:36"} <= set(ids)
    assert "req-a" not in ids
    assert "req-b:0" not in ids
    rows = frame.set_index("request_id")
    bill: Any = rows.loc["req-a:3", "in_bill_length_mm"]
    sex: Any = rows.loc["req-a:3", "in_sex"]
    assert pd.isna(bill)  # NaN kept
    assert pd.isna(sex)  # None kept (a null)
    assert rows.loc["req-a:0", "in_heavy"] in (True, False)
    assert rows.loc["req-b", "status"] == "error"
    assert rows.loc["req-b", "error"] == "E: x"
    assert rows.loc["req-c:0", "prediction"] == {"p": [0.1, 0.9]}


def test_feedback_by_row_id_joins_rows_written_as_a_batch(
    logs: Callable[[str], PredictionLog],
) -> None:
    log = logs("a")
    log.write(requests())
    result = log.feedback({"req-a:7": "Adelie", "req-b": 1}, keep_unknown=False)
    assert (result.accepted, result.unknown) == (2, 0)
    labels = log.read().set_index("request_id")["label"]
    assert labels["req-a:7"] == "Adelie"
    assert labels["req-b"] == 1
    assert labels.drop(["req-a:7", "req-b"]).isna().all()


@pytest.mark.parametrize("policy", ["hash", "drop"])
def test_personal_data_is_masked_in_batches_as_in_records(
    policy: str, logs: Callable[[str], PredictionLog]
) -> None:
    pii = PiiPolicy(frozenset({"island", "sex"}), policy, KEY)  # type: ignore[arg-type]
    by_batch = logs("a")
    by_batch.privacy = pii
    items = requests()
    by_batch.write(items)
    masked = [pii.apply(item) for item in items]
    assert encode_batch(masked[:1]) == encode_batch([pii.apply(r) for r in items[0].records()])
    frame = by_batch.read()
    if policy == "drop":
        assert "in_island" not in frame.columns
        assert "in_sex" not in frame.columns
        assert by_batch.erase("island", "Torgersen").rows == 0
    else:
        assert "Torgersen" not in frame["in_island"].tolist()
        assert frame["in_island"].str.fullmatch("[0-9a-f]{64}").all()
        assert frame["in_sex"].isna().sum() == sum(
            v is None for i in items for v in i.columns["sex"]
        )
        torgersen = sum(v == "Torgersen" for i in items for v in i.columns["island"])
        assert torgersen > 0
        assert by_batch.erase("island", "Torgersen").rows == torgersen
        assert len(by_batch.read()) == 138 - torgersen
    assert items[0].columns["island"][0] == "Torgersen"  # the request's own data is untouched


# -- the logger counts rows ----------------------------------------------------------------


class GatedLog:
    """Takes batches; blocks each write until the gate opens."""

    takes_batches = True

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.writes: list[list[Loggable]] = []

    def write(self, records: Sequence[Loggable], *, idempotent: bool = False) -> object:
        self.gate.wait(10)
        self.writes.append(list(records))
        return None


def test_queue_limits_spill_and_counters_count_rows(tmp_path: Path) -> None:
    log = GatedLog()
    logger = PredictionLogger(
        log, max_batch=150, max_queue=250, max_spill_queue=100, spill_dir=tmp_path / "spill"
    )
    hundred = penguin_columns(0, 100)
    try:
        for i in range(6):
            logger.submit(batch(f"req-{i}", hundred))
        # The writer may hold one write of two requests; 250 rows fit in the queue, then
        # 100 go to the spill queue and the rest are lost: every figure is in rows.
        assert logger.flush(timeout=0.2) is False
        log.gate.set()
        assert logger.flush(timeout=10)
        stats = logger.stats()
        assert stats.written + stats.spilled + stats.failed == 600
        assert stats.spilled == 100
        assert stats.written in (200, 300, 400)
        assert stats.queue_depth == 0
        assert all(sum(map(row_count, w)) <= 200 for w in log.writes)  # whole requests
    finally:
        logger.close()


def test_a_spilled_batch_is_recovered_with_its_row_ids(
    logs: Callable[[str], PredictionLog], tmp_path: Path
) -> None:
    class Down:
        takes_batches = True

        def write(self, records: Sequence[Loggable], *, idempotent: bool = False) -> object:
            raise RuntimeError("database is locked")

    with PredictionLogger(Down(), spill_dir=tmp_path / "spill", max_wait_s=0.01) as logger:
        for item in requests():
            logger.submit(item)
        assert logger.flush(timeout=10)
        assert logger.stats().spilled == 138
    log, expected = logs("a"), logs("b")
    recovered = PredictionLogger(log, spill_dir=tmp_path / "spill")
    try:
        assert recovered.recover_spill() == 138
    finally:
        recovered.close()
    expected.write(requests())
    pd.testing.assert_frame_equal(read(log), read(expected))


def test_a_writer_without_batches_is_given_one_record_per_row(tmp_path: Path) -> None:
    class Rows:
        def __init__(self) -> None:
            self.records: list[Any] = []

        def write(self, records: Sequence[Any], *, idempotent: bool = False) -> object:
            self.records += records
            return None

    target = Rows()
    with PredictionLogger(target, spill_dir=tmp_path / "spill") as logger:
        logger.submit(requests()[0])
        assert logger.flush(timeout=10)
    assert all(isinstance(r, PredictionRecord) for r in target.records)
    assert [r.request_id for r in target.records] == [f"req-a:{i}" for i in range(100)]


# -- hostile batches -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "predictions", "rows", "match"),
    [
        ({"a": [1, 2]}, [0, 1, 2], 3, "column 'a' with 2 values for 3 rows"),
        ({"a": [1, 2, 3]}, [0], 3, "predictions with 1 values"),
        ({"a": "abc"}, [0, 1, 2], 3, "type str"),
        ({"a": np.zeros((3, 2))}, [0, 1, 2], 3, r"shape \(3, 2\)"),
        ({"a": 7}, [0], 1, "no length"),
        ({7: [1]}, [0], 1, "column named 7"),
        ({"": [1]}, [0], 1, "column named ''"),
        ([("a", [1])], [0], 1, "expected a mapping"),
        ({"a": [1]}, [0], 0, "has 0 rows"),
        ({"a": [1]}, [0], True, "has True rows"),
    ],
)
def test_a_malformed_batch_is_refused_at_construction(
    columns: Any, predictions: Any, rows: Any, match: str
) -> None:
    with pytest.raises(InvalidPredictionRecordError, match=match):
        PredictionBatch("r1", T0, "m", 1, columns, predictions, 1.0, rows=rows)


def test_a_hostile_batch_never_stops_the_writer_and_the_good_rows_are_kept(
    logs: Callable[[str], PredictionLog], tmp_path: Path
) -> None:
    log = logs("a")
    long_name = "x" * 10_000
    huge = [2**70, -(2**80), 3]
    stored = batch("req-huge", {long_name: ["a", "b", "c"], "n": huge})
    unencodable = batch("req-bad", {"n": [1, {1, 2}, 3]})  # a set is no JSON value
    with PredictionLogger(log, spill_dir=tmp_path / "spill", max_wait_s=0.01) as logger:
        logger.submit(stored)
        logger.submit(unencodable)
        assert logger.flush(timeout=20)
        logger.submit(batch("req-after", penguin_columns(0, 5)))
        assert logger.flush(timeout=20)
        stats = logger.stats()
    assert logger._writer.is_alive() is False  # closed normally, not crashed
    assert stats.quarantined == 1
    assert stats.written == 3 + 2 + 5
    frame = log.read().set_index("request_id")
    assert frame.loc[["req-huge:0", "req-huge:1", "req-huge:2"], "in_n"].tolist() == huge
    assert frame.loc["req-huge:1", "in_" + long_name] == "b"
    assert "req-bad:1" not in frame.index
    assert {"req-bad:0", "req-bad:2"} <= set(frame.index)
    assert (tmp_path / "spill" / "quarantine").is_dir()


def test_numpy_columns_of_different_types_across_requests_are_typed_as_lists_would_be() -> None:
    ints = batch("req-i", {"n": np.arange(3, dtype=np.int64), "f": np.array([1.5, np.nan, 2.0])})
    floats = batch("req-f", {"n": np.array([0.5, 1.0, np.nan]), "f": np.array([3.0, 4.0, 5.0])})
    flags = batch("req-b", {"n": np.array([True, False, True]), "f": np.ones(3)})
    for items in ([ints, floats], [ints, flags], [floats, floats], [flags]):
        assert encode_batch(items) == encode_batch(as_records(items))
