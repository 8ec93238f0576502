"""The dataset records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.data import BaseDatasetRecords, DatasetVersionConflictError, SqlDatasetRecords
from conveyor.store import MetadataStore, open_store
from conveyor.testing.records._data import (
    AuditLog,
    DatasetRecordsContract,
    objects_of,
    sample_version,
)


class TestSqlDatasetRecords(DatasetRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseDatasetRecords:
        return SqlDatasetRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_a_recorded_version_keeps_its_manifest_and_objects_through_gc(
    store: MetadataStore, actor: Actor
) -> None:
    records = SqlDatasetRecords(store)
    version = sample_version("orders", 1)
    records.add_version(actor, version, objects_of(version))
    assert store.referenced_hashes() == {version.content_hash, *objects_of(version)}
    pulled = [sample_version("orders", 2), sample_version("orders", 3)]
    records.import_versions(actor, [(v, objects_of(v)) for v in pulled])
    expected = {h for v in (version, *pulled) for h in (v.content_hash, *objects_of(v))}
    assert store.referenced_hashes() == expected


def test_a_conflicting_add_leaves_no_reference(store: MetadataStore, actor: Actor) -> None:
    records = SqlDatasetRecords(store)
    first = sample_version("orders", 1)
    records.add_version(actor, first, set())
    late = sample_version("orders", 1, content_hash="f" * 64)
    with pytest.raises(DatasetVersionConflictError):
        records.add_version(actor, late, {"e" * 64})
    assert store.referenced_hashes() == {first.content_hash}


def test_records_survive_reopening_the_store(metadata_url: str, actor: Actor) -> None:
    """A version read by a new process is the one written, field for field."""
    version = sample_version("orders", 1)
    with open_store(metadata_url) as store:
        SqlDatasetRecords(store).add_version(actor, version, set())
    with open_store(metadata_url) as store:
        assert SqlDatasetRecords(store).get_version("orders", 1) == version
