"""A second run records backend (in memory): it passes the contract and drives RunTracker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from memory_records import InMemoryRunRecords

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.store import open_store
from conveyor.testing.records._tracking import AuditLog, RunRecordsContract
from conveyor.tracking import BaseRunRecords, MetricValue, RunTracker


@pytest.fixture
def actor() -> Actor:
    return Actor(name="contract-tester", kind="user")


class TestInMemoryRunRecords(RunRecordsContract):
    @pytest.fixture
    def records(self) -> InMemoryRunRecords:
        return InMemoryRunRecords()

    @pytest.fixture
    def audit_log(self, records: InMemoryRunRecords) -> AuditLog:
        return lambda: list(records.events)


class _Batches(InMemoryRunRecords):
    """Remembers the size of each metric batch it receives (one request each, remotely)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def log_metrics(self, actor: Actor, run_id: str, batch: Sequence[MetricValue]) -> None:
        self.batches.append(len(batch))
        super().log_metrics(actor, run_id, batch)


def test_the_tracker_works_through_an_injected_backend(tmp_path: Path) -> None:
    """Nothing reaches the metadata store when another backend is injected."""
    records = _Batches()
    with open_store(f"sqlite:///{tmp_path / 'meta.db'}") as store:
        artifacts = open_artifact_store(str(tmp_path / "artifacts"))
        tracker = RunTracker(store, artifacts, actor=Actor("t"), root=tmp_path, records=records)
        assert tracker.records is records
        run = tracker.start_run("training", kind="pipeline", params={"lr": 0.1})
        step = tracker.start_run("train", kind="step", parent_id=run.id[:8])
        tracker.record_dataset(run.id, "orders", 3, "c" * 64)
        tracker._buffer.max_age_s = 3600.0
        for i in range(2500):
            tracker.log_metric(step.id, "loss", 1 / (i + 1), i)
        tracker.finish_run(step.id, "completed")
        tracker.finish_run(run.id, "completed")
        assert records.batches == [1000, 1000, 500]  # one write per flush, not per value
        assert tracker.run_tree_metrics(run.id)["loss"].value == pytest.approx(1 / 2500)
        assert tracker.datasets(run.id) == [
            {"name": "orders", "version": 3, "content_hash": "c" * 64}
        ]
        assert tracker.get(step.id).parent_id == run.id
        assert [e.action for e in store.audit_log()] == ["store.migrate"]


def test_records_default_to_the_sql_backend(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'meta.db'}") as store:
        artifacts = open_artifact_store(str(tmp_path / "artifacts"))
        tracker = RunTracker(store, artifacts, actor=Actor("t"), root=tmp_path)
        assert isinstance(tracker.records, BaseRunRecords)
        assert type(tracker.records).__name__ == "SqlRunRecords"
