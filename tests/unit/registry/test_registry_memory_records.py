"""The model records contract on the in-memory fake, and the registry over injected records."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_memory_records import MemoryModelRecords

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.registry import BaseModelRecords, ModelRegistry, prepare_files
from conveyor.store import open_store
from conveyor.testing.records._registry import AuditLog, ModelRecordsContract


class TestMemoryModelRecords(ModelRecordsContract):
    @pytest.fixture
    def records(self) -> MemoryModelRecords:
        return MemoryModelRecords()

    @pytest.fixture
    def actor(self) -> Actor:
        return Actor(name="contract-tester", kind="user")

    @pytest.fixture
    def audit_log(self, records: MemoryModelRecords) -> AuditLog:
        return lambda: list(records.events)


def test_the_registry_keeps_everything_in_the_records_it_is_given(tmp_path: Path) -> None:
    records = MemoryModelRecords()
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.bin").write_bytes(b"weights")
    prepared = prepare_files(
        artifacts,
        tmp_path / "model",
        flavor="raw",
        flavor_meta={"file": "model.bin"},
        signature=None,
        input_example={"x": [1.0]},
    )
    with open_store(f"sqlite:///{tmp_path / 'meta.db'}") as store:
        registry = ModelRegistry(
            store, artifacts, actor=Actor("alice"), root=tmp_path, records=records
        )
        assert isinstance(registry.records, BaseModelRecords)
        made = registry.record("churn", prepared, description="Churn.", idempotency_key="b1")
        registry.set_alias("churn", 1, "champion")
        assert registry.get("churn@champion") == registry.get("churn@1")
        assert registry.record("churn", prepared, idempotency_key="b1").ref == made.ref
        assert [m.name for m in registry.list()] == ["churn"]
        assert [h.kind for h in registry.history("churn")] == ["registered", "alias.set"]
        assert registry.card("churn@1").markdown.count("Churn.") >= 1
        assert [e for e in store.audit_log() if e.action.startswith("model.")] == []
    assert [e.action for e in records.events] == ["model.register", "model.alias.set"]
    assert (prepared.content_hash, "model:churn@1") in records.references
