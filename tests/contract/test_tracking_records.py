"""The run records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.store import MetadataStore
from conveyor.testing.records._tracking import (
    AuditLog,
    RunRecordsContract,
    sample_output,
    sample_run,
)
from conveyor.tracking import BaseRunRecords, SqlRunRecords


class TestSqlRunRecords(RunRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseRunRecords:
        return SqlRunRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_outputs_and_artifacts_are_kept_as_artifact_references(
    store: MetadataStore, actor: Actor
) -> None:
    """Garbage collection keeps what a run's outputs and logged files point to."""
    records = SqlRunRecords(store)
    run = sample_run()
    records.create_run(actor, run)
    records.add_outputs(actor, run.id, [sample_output(hash="1" * 64)])
    records.finish_run(
        actor,
        run.id,
        status="completed",
        ended_at=run.started_at,
        outputs=[sample_output("output_1", hash="2" * 64)],
    )
    records.add_artifact(
        actor, run.id, name="plot.png", hash="3" * 64, size=1, media_type="image/png"
    )
    assert {"1" * 64, "2" * 64, "3" * 64} <= store.referenced_hashes()
    assert store.verify_audit().ok
