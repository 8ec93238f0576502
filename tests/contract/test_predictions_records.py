"""The prediction records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.predictions import BasePredictionRecords, SqlPredictionRecords
from conveyor.store import MetadataStore
from conveyor.testing.records._predictions import (
    AuditLog,
    PredictionRecordsContract,
    sample_partition,
)


class TestSqlPredictionRecords(PredictionRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BasePredictionRecords:
        return SqlPredictionRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_indexed_objects_are_kept_by_garbage_collection(store: MetadataStore, actor: Actor) -> None:
    """Every indexed Parquet object is an artifact reference of the store."""
    records = SqlPredictionRecords(store)
    indexed = records.add_partitions(actor, [sample_partition(0, 1), sample_partition(2, 3)])
    assert store.referenced_hashes() == {p.content_hash for p in indexed}
