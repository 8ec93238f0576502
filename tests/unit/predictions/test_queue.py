"""The logger never blocks or raises on submit, batches, spills under overload, counts losses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from conveyor.predictions import (
    LoggerStats,
    PredictionBatch,
    PredictionLogError,
    PredictionLogger,
    PredictionRecord,
)
from conveyor.predictions._spill import claim_spill_files, read_spill

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryLog:
    """An in-memory prediction log; ``gate`` (when given) holds every write until set."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[PredictionRecord]] = []
        self.gate = gate
        self._lock = threading.Lock()

    def write(self, records: Sequence[PredictionRecord], *, idempotent: bool = False) -> object:
        if self.gate is not None:
            self.gate.wait(10)
        with self._lock:
            self.batches.append(list(records))
        return None

    @property
    def ids(self) -> list[str]:
        return [r.request_id for batch in self.batches for r in batch]


class BrokenLog:
    """A prediction log whose every write fails, like a locked or unreachable database."""

    def write(self, records: Sequence[PredictionRecord], *, idempotent: bool = False) -> object:
        raise RuntimeError("database is locked")


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def rec(i: int) -> PredictionRecord:
    return PredictionRecord(f"r{i}", T0, "churn", 1, {"x": i}, 0.5, 1.0)


def test_many_submits_are_written_in_few_full_batches(tmp_path: Path) -> None:
    log = MemoryLog()
    with PredictionLogger(log, max_batch=100, max_wait_s=30, spill_dir=tmp_path) as logger:
        for i in range(1000):
            logger.submit(rec(i))
        assert logger.flush(10)
        assert logger.stats().written == 1000
    assert log.ids == [f"r{i}" for i in range(1000)]
    assert len(log.batches) <= 11
    assert max(len(batch) for batch in log.batches) <= 100


def test_by_default_a_burst_of_30_000_rows_is_one_write(tmp_path: Path) -> None:
    """Each write has a fixed cost (a transaction, an audit event, a Parquet file's set-up):
    a server's burst of 300 requests of 100 rows goes out in one write, not three."""
    gate = threading.Event()
    log = MemoryLog(gate)
    with PredictionLogger(log, max_wait_s=30, spill_dir=tmp_path) as logger:
        for i in range(30_000):
            logger.submit(rec(i))
        gate.set()
        assert logger.flush(10)
    assert len(log.ids) == 30_000
    assert len(log.batches) == 1


def test_by_default_four_full_writes_wait_in_memory_while_the_store_is_slow(
    tmp_path: Path,
) -> None:
    """200,000 rows (2,000 requests of 100) arrive while a write is held: all are queued
    and written, none spilled (a spilled row costs more than a written one)."""
    gate = threading.Event()
    rows: list[int] = []

    class SlowLog:
        takes_batches = True

        def write(self, records: Sequence[PredictionBatch], *, idempotent: bool = False) -> None:
            gate.wait(10)
            rows.append(sum(record.rows for record in records))

    columns = {"x": np.arange(100, dtype=np.float64)}
    with PredictionLogger(SlowLog(), max_wait_s=30, spill_dir=tmp_path) as logger:
        for i in range(2_000):
            logger.submit(
                PredictionBatch(f"r{i}", T0, "churn", 1, columns, [0] * 100, 1.0, rows=100)
            )
        assert logger.stats().spilled == 0
        gate.set()
        assert logger.flush(10)
        assert logger.stats().written == 200_000
    assert sum(rows) == 200_000
    assert not list(tmp_path.iterdir())


def test_a_partial_batch_is_written_after_max_wait(tmp_path: Path) -> None:
    log = MemoryLog()
    with PredictionLogger(log, max_batch=100, max_wait_s=0.05, spill_dir=tmp_path) as logger:
        logger.submit(rec(1))
        assert wait_until(lambda: bool(log.batches))
        assert log.ids == ["r1"]


def test_close_writes_everything_still_queued(tmp_path: Path) -> None:
    log = MemoryLog()
    logger = PredictionLogger(log, max_batch=1000, max_wait_s=60, spill_dir=tmp_path)
    for i in range(250):
        logger.submit(rec(i))
    logger.close()
    assert sorted(log.ids) == sorted(f"r{i}" for i in range(250))
    assert logger.stats() == LoggerStats(0, 0.0, 250, 0, 0, 0)


def test_overload_spills_to_disk_instead_of_dropping(tmp_path: Path) -> None:
    gate = threading.Event()
    log = MemoryLog(gate)
    logger = PredictionLogger(
        log, max_batch=5, max_wait_s=60, max_queue=10, max_spill_queue=1000, spill_dir=tmp_path
    )
    for i in range(100):
        logger.submit(rec(i))
    # The overflow reaches disk while the writer is still stuck in its first write.
    assert wait_until(lambda: logger.stats().spilled >= 100 - 10 - 5)
    gate.set()
    logger.close()
    stats = logger.stats()
    assert stats.failed == 0
    assert stats.spilled >= 100 - 10 - 5
    assert stats.written + stats.spilled == 100
    spilled = [r.request_id for path, _ in claim_spill_files(tmp_path) for r in read_spill(path)[0]]
    assert sorted(log.ids + spilled) == sorted(f"r{i}" for i in range(100))


def test_a_failing_log_never_raises_into_submit_and_its_batches_are_spilled(
    tmp_path: Path,
) -> None:
    logger = PredictionLogger(BrokenLog(), max_batch=10, max_wait_s=60, spill_dir=tmp_path)
    for i in range(35):
        logger.submit(rec(i))
    logger.close()
    stats = logger.stats()
    assert (stats.written, stats.spilled, stats.failed) == (0, 35, 0)
    assert stats.write_errors >= 4
    assert str(logger.last_error) == "database is locked"


def test_records_that_cannot_be_written_anywhere_are_counted_as_failed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    logger = PredictionLogger(BrokenLog(), max_batch=10, max_wait_s=60, spill_dir=blocker)
    for i in range(25):
        logger.submit(rec(i))
    logger.close()
    assert (logger.stats().spilled, logger.stats().failed) == (0, 25)


def test_records_beyond_both_queues_are_counted_as_failed(tmp_path: Path) -> None:
    gate = threading.Event()
    logger = PredictionLogger(
        MemoryLog(gate), max_batch=5, max_queue=10, max_spill_queue=0, spill_dir=tmp_path
    )
    for i in range(50):
        logger.submit(rec(i))
    gate.set()
    logger.close()
    stats = logger.stats()
    assert stats.written + stats.failed == 50
    assert stats.failed >= 50 - 10 - 5


def test_submit_after_close_spills_instead_of_losing(tmp_path: Path) -> None:
    logger = PredictionLogger(MemoryLog(), spill_dir=tmp_path)
    logger.close()
    logger.submit(rec(1))
    assert logger.stats().spilled == 1


def test_concurrent_submits_from_eight_threads_lose_nothing(tmp_path: Path) -> None:
    log = MemoryLog()
    logger = PredictionLogger(log, max_batch=500, max_wait_s=0.01, spill_dir=tmp_path)
    barrier = threading.Barrier(8)

    def submit_many(worker: int) -> None:
        barrier.wait()
        for i in range(2000):
            logger.submit(rec(worker * 10_000 + i))

    threads = [threading.Thread(target=submit_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.close()
    assert len(log.ids) == 16_000
    assert len(set(log.ids)) == 16_000


def test_stats_show_queue_depth_and_lag_while_records_wait(tmp_path: Path) -> None:
    gate = threading.Event()
    logger = PredictionLogger(MemoryLog(gate), max_batch=1, max_wait_s=60, spill_dir=tmp_path)
    for i in range(5):
        logger.submit(rec(i))
    stats = logger.stats()
    assert stats.queue_depth >= 4
    assert stats.lag_s >= 0.0
    gate.set()
    logger.close()
    assert logger.stats().queue_depth == 0
    assert logger.stats().written == 5


@pytest.mark.parametrize(
    ("option", "message"),
    [({"max_batch": 0}, "max_batch must be at least 1"), ({"max_wait_s": 0}, "positive")],
)
def test_nonsense_options_are_refused(
    tmp_path: Path, option: dict[str, float], message: str
) -> None:
    with pytest.raises(PredictionLogError, match=message):
        PredictionLogger(MemoryLog(), spill_dir=tmp_path, **option)  # type: ignore[arg-type]
