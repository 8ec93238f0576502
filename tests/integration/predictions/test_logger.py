"""The server-side logger against a real prediction log on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.predictions import BatchInfo, PredictionLog, PredictionLogger, PredictionRecord
from conveyor.predictions._errors import PredictionLogError
from conveyor.predictions._spill import read_spill, write_spill
from conveyor.store import MetadataStore, open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def log(store: MetadataStore, tmp_path: Path) -> PredictionLog:
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    return PredictionLog(store, artifacts, actor=Actor("server"), root=tmp_path)


class GatedLog:
    """A real prediction log whose writes wait for ``gate``: a stalled database."""

    def __init__(self, log: PredictionLog, gate: threading.Event) -> None:
        self.log = log
        self.gate = gate

    def write(self, records: Sequence[PredictionRecord], *, idempotent: bool = False) -> BatchInfo:
        self.gate.wait(10)
        return self.log.write(records, idempotent=idempotent)


def rec(i: int, model: str = "churn") -> PredictionRecord:
    at = T0 + timedelta(milliseconds=i)
    return PredictionRecord(f"r{i}", at, model, 1, {"x": i}, i % 2, 0.2)


def batch_count(log: PredictionLog) -> int:
    return len(log.records.partitions())


def test_many_submits_become_few_batches_and_close_flushes_the_rest(
    log: PredictionLog, store: MetadataStore, tmp_path: Path
) -> None:
    logger = PredictionLogger(log, max_batch=1000, max_wait_s=60, spill_dir=tmp_path / "spill")
    for i in range(2500):
        logger.submit(rec(i))
    logger.close()
    assert logger.stats().written == 2500
    assert log.count() == 2500
    assert batch_count(log) <= 4
    assert sorted(log.read(with_feedback=False)["request_id"]) == sorted(
        f"r{i}" for i in range(2500)
    )


def test_overload_spills_and_recovery_ingests_the_spill_exactly_once(
    log: PredictionLog, tmp_path: Path
) -> None:
    gate = threading.Event()
    spill = tmp_path / "spill"
    logger = PredictionLogger(
        GatedLog(log, gate),
        max_batch=10,
        max_wait_s=60,
        max_queue=20,
        max_spill_queue=1000,
        spill_dir=spill,
    )
    for i in range(300):
        logger.submit(rec(i))
    gate.set()
    logger.close()
    stats = logger.stats()
    assert stats.failed == 0
    assert stats.spilled >= 300 - 20 - 10
    assert log.count() == stats.written

    restarted = PredictionLogger(log, spill_dir=spill)
    assert restarted.recover_spill() == stats.spilled
    assert restarted.recover_spill() == 0
    restarted.close()
    assert log.count() == 300
    assert log.read(with_feedback=False)["request_id"].nunique() == 300


def test_records_the_log_refuses_are_quarantined_and_their_batch_mates_written(
    log: PredictionLog, tmp_path: Path
) -> None:
    spill = tmp_path / "spill"
    logger = PredictionLogger(log, max_batch=50, max_wait_s=60, spill_dir=spill)
    for i in range(120):
        bad = i % 40 == 0  # three records the log refuses (InvalidNameError)
        logger.submit(rec(i, model="not a valid name" if bad else "churn"))
    logger.close()
    stats = logger.stats()
    assert (stats.written, stats.spilled, stats.failed, stats.quarantined) == (117, 0, 0, 3)
    assert stats.write_errors == 2  # two batches were taken in part
    assert "Invalid model name 'not a valid name'" in str(logger.last_error)
    assert log.count() == 117
    kept = "".join(p.read_text() for p in (spill / "quarantine").iterdir())
    assert kept.count("not a valid name") == 3


def test_recovery_quarantines_what_it_cannot_replay_and_ingests_the_rest(
    log: PredictionLog, tmp_path: Path
) -> None:
    spill = tmp_path / "spill"
    write_spill(spill, [rec(i, model="bad name" if i == 2 else "churn") for i in range(5)])
    (spill / "spill-1-2-planted.jsonl").write_bytes(b'{"request_id": "\xff\xfe"}\n')
    restarted = PredictionLogger(log, max_batch=10, max_wait_s=60, spill_dir=spill)
    assert restarted.recover_spill() == 4  # starting again never stops on them
    restarted.close()
    assert restarted.stats().quarantined == 2
    assert sorted(p.name for p in spill.iterdir()) == ["quarantine"]
    quarantined = b"".join(p.read_bytes() for p in (spill / "quarantine").iterdir())
    assert b"\xff\xfe" in quarantined  # kept byte for byte
    assert b"bad name" in quarantined
    assert restarted.recover_spill() == 0
    assert log.count() == 4


def test_recovery_puts_the_spill_file_back_when_the_store_is_down(tmp_path: Path) -> None:
    class DownLog:
        def write(self, records: Sequence[PredictionRecord], *, idempotent: bool = False) -> None:
            raise PredictionLogError("metadata store unreachable", hint="retry")

    spill = tmp_path / "spill"
    write_spill(spill, [rec(i) for i in range(5)])
    logger = PredictionLogger(DownLog(), max_batch=10, max_wait_s=60, spill_dir=spill)
    with pytest.raises(PredictionLogError, match="unreachable"):
        logger.recover_spill()
    logger.close()
    (kept,) = spill.iterdir()
    assert kept.suffix == ".jsonl"
    records, bad = read_spill(kept)  # put back whole: every record, nothing corrupt
    assert [r.request_id for r in records] == [f"r{i}" for i in range(5)]
    assert bad == 0


def test_eight_threads_submitting_at_once_lose_nothing(log: PredictionLog, tmp_path: Path) -> None:
    logger = PredictionLogger(log, max_batch=500, max_wait_s=0.05, spill_dir=tmp_path / "spill")
    barrier = threading.Barrier(8)

    def submit_many(worker: int) -> None:
        barrier.wait()
        for i in range(500):
            logger.submit(rec(worker * 1000 + i))

    threads = [threading.Thread(target=submit_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.close()
    assert logger.stats().written == 4000
    frame = log.read(with_feedback=False)
    assert len(frame) == 4000
    assert frame["request_id"].nunique() == 4000
