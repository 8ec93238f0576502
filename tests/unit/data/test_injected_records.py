"""The registry works through whatever records it is given; the fake passes the contract."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from data_memory_records import MemoryDatasetRecords

from conveyor.artifacts import MasterKey, open_artifact_store
from conveyor.core import Actor
from conveyor.data import BaseDatasetRecords, DatasetRegistry, SqlDatasetRecords
from conveyor.store import AuditEvent, open_store
from conveyor.testing.records._data import AuditLog, DatasetRecordsContract


class TestMemoryDatasetRecords(DatasetRecordsContract):
    @pytest.fixture
    def records(self) -> MemoryDatasetRecords:
        return MemoryDatasetRecords()

    @pytest.fixture
    def actor(self) -> Actor:
        return Actor(name="contract-tester", kind="user")

    @pytest.fixture
    def audit_log(self, records: MemoryDatasetRecords) -> AuditLog:
        def events() -> list[AuditEvent]:
            return list(records.events)

        return events


def _registry(
    root: Path, records: BaseDatasetRecords, *, key: MasterKey | None = None
) -> DatasetRegistry:
    store = open_store(f"sqlite:///{root / 'conveyor.db'}")
    artifacts = open_artifact_store(
        str(root / "artifacts"), master_key=key, encrypt=key is not None
    )
    return DatasetRegistry(store, artifacts, actor=Actor("alice"), root=root, records=records)


def test_a_registry_reads_and_writes_only_through_its_records(tmp_path: Path) -> None:
    records = MemoryDatasetRecords()
    reg = _registry(tmp_path, records)
    try:
        v1 = reg.add("orders", pd.DataFrame({"id": [1, 2], "city": ["Oslo", "Rome"]}))
        v2 = reg.add("orders", pd.DataFrame({"id": [1, 2, 3], "city": ["Oslo", "Rome", "Oslo"]}))
        same = reg.add("orders", pd.DataFrame({"id": [1, 2, 3], "city": ["Oslo", "Rome", "Oslo"]}))
        assert (v1.version, v2.version, same.version, same.unchanged) == (1, 2, 2, True)
        assert [v.ref for v in records.versions("orders")] == ["orders@1", "orders@2"]
        assert reg.get("orders") == v2
        assert [v.ref for v in reg.log("orders")] == ["orders@2", "orders@1"]
        assert [s.name for s in reg.list()] == ["orders"]
        assert reg.load("orders@1")["city"].tolist() == ["Oslo", "Rome"]
        assert [e.target for e in records.events] == ["dataset:orders@1", "dataset:orders@2"]
        assert (v2.content_hash, "dataset:orders@2") in records.references
        # The metadata store was never written: no record and no audit event there.
        assert SqlDatasetRecords(reg.store).summaries() == []
        assert reg.store.audit_log(action="data.add") == []
    finally:
        reg.store.close()


def test_an_add_returns_what_it_did(tmp_path: Path) -> None:
    reg = _registry(tmp_path, MemoryDatasetRecords())
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(f"image {i}\n")
    try:
        first = reg.add("images", folder)
        again = reg.add("images", folder)
    finally:
        reg.store.close()
    assert first.stats is not None
    assert (first.stats.files, first.stats.hashed_files, first.stats.uploaded_objects) == (3, 3, 3)
    assert again.stats is not None
    assert (again.stats.hashed_files, again.stats.cached_files) == (0, 3)
    assert again.unchanged
    assert again == replace(first, unchanged=True)


def test_records_get_profiles_sealed_when_artifacts_are_encrypted(tmp_path: Path) -> None:
    records = MemoryDatasetRecords()
    reg = _registry(tmp_path, records, key=MasterKey.generate())
    try:
        version = reg.add("people", pd.DataFrame({"city": ["Oslo", "Oslo", "Rome"]}))
    finally:
        reg.store.close()
    stored = records.find_version("people")
    assert stored is not None
    assert "Oslo" in repr(version.profile)
    assert "Oslo" not in repr(stored.profile)
    assert reg.get("people").profile == version.profile
