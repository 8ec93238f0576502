"""The model records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.registry import BaseModelRecords, ModelRef, SqlModelRecords
from conveyor.store import MetadataStore, open_store
from conveyor.testing.records._registry import AuditLog, ModelRecordsContract, sample_version


class TestSqlModelRecords(ModelRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseModelRecords:
        return SqlModelRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_a_version_keeps_its_objects_through_gc(store: MetadataStore, actor: Actor) -> None:
    records = SqlModelRecords(store)
    new = sample_version("a")
    records.insert_version(actor, "churn", new, model_description=None)
    assert store.referenced_hashes() == set(new.object_hashes)


def test_a_retried_key_adds_no_reference(store: MetadataStore, actor: Actor) -> None:
    records = SqlModelRecords(store)
    records.insert_version(
        actor, "churn", sample_version("a", idempotency_key="k"), model_description=None
    )
    records.insert_version(
        actor, "churn", sample_version("b", idempotency_key="k"), model_description=None
    )
    assert store.referenced_hashes() == set(sample_version("a").object_hashes)


def test_records_survive_reopening_the_store(metadata_url: str, actor: Actor) -> None:
    """A version read by a new process is the one written, field for field."""
    with open_store(metadata_url) as store:
        made = SqlModelRecords(store).insert_version(
            actor, "churn", sample_version(), model_description="text"
        )
    with open_store(metadata_url) as store:
        assert SqlModelRecords(store).get_version(ModelRef("churn", version=1)) == made
