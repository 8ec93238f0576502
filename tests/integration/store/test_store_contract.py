"""The metadata store contract, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from conveyor.core import Actor, utcnow
from conveyor.errors import StoreError
from conveyor.store import (
    GENESIS_HASH,
    Base,
    MetadataStore,
    WriteTx,
    head_revision,
    open_store,
)
from conveyor.store._data_models import DatasetRow, DatasetVersionRow
from conveyor.store._migrate import VERSION_TABLE
from conveyor.store._models import ArtifactRefRow

ALICE = Actor("alice")


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


def add_dataset(tx: WriteTx, name: str) -> DatasetRow:
    row = DatasetRow(name=name, created_at=utcnow(), created_by=tx.actor.name)
    tx.session.add(row)
    tx.session.flush()
    return row


def add_version(tx: WriteTx, dataset: DatasetRow, version: int, **extra: object) -> None:
    tx.session.add(
        DatasetVersionRow(
            dataset_id=dataset.id,
            version=version,
            kind="table",
            content_hash="c" * 64,
            size_bytes=2**40,
            file_count=1,
            created_at=utcnow(),
            created_by=tx.actor.name,
            **extra,
        )
    )


def test_opening_twice_migrates_once_and_keeps_data(metadata_url: str) -> None:
    with open_store(metadata_url) as first, first.write(ALICE, "dataset.create", "d") as tx:
        add_dataset(tx, "orders")
    with open_store(metadata_url) as second:
        migrations = second.audit_log(action="store.migrate")
        assert [(e.details["from"], e.details["to"]) for e in migrations] == [
            (None, head_revision())
        ]
        with second.read() as session:
            assert session.scalars(select(DatasetRow.name)).all() == ["orders"]


def test_store_reports_its_dialect_and_url(store: MetadataStore, metadata_url: str) -> None:
    assert store.dialect == ("sqlite" if metadata_url.startswith("sqlite") else "postgresql")
    assert store.url == metadata_url


def test_migrated_schema_matches_the_models(store: MetadataStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_rows_round_trip_with_aware_utc_timestamps(store: MetadataStore) -> None:
    created = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    with store.write(ALICE, "dataset.add", "dataset:orders") as tx:
        dataset = add_dataset(tx, "orders")
        dataset.created_at = created
        add_version(tx, dataset, 1, schema={"a": "int64"}, row_count=3, message="first")
    with store.read() as session:
        version = session.scalars(select(DatasetVersionRow)).one()
        assert version.dataset.name == "orders"
        assert version.dataset.created_at == created
        assert version.dataset.created_at.tzinfo is not None
        assert (version.size_bytes, version.schema, version.message) == (
            2**40,
            {"a": "int64"},
            "first",
        )


def test_each_write_appends_one_event_with_actor_action_and_refined_target(
    store: MetadataStore,
) -> None:
    with store.write(ALICE, "dataset.add", "dataset:orders", details={"n": 1}) as tx:
        add_version(tx, add_dataset(tx, "orders"), 1)
        tx.target = "dataset:orders@1"
        tx.details["version"] = 1
    assert tx.event is not None
    events = store.audit_log()
    assert [e.action for e in events] == ["store.migrate", "dataset.add"]
    last = events[-1]
    assert last == tx.event
    assert (last.seq, last.actor, last.target) == (2, "alice", "dataset:orders@1")
    assert last.details == {"n": 1, "version": 1}
    assert last.prev_hash == events[0].hash
    assert events[0].prev_hash == GENESIS_HASH
    assert last.at.tzinfo is not None
    assert abs((utcnow() - last.at).total_seconds()) < 3600


def test_failed_write_leaves_no_row_and_no_event(store: MetadataStore) -> None:
    def failing_write() -> None:
        with store.write(ALICE, "dataset.add", "dataset:orders") as tx:
            add_dataset(tx, "orders")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_write()
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(DatasetRow)) == 0
    assert [e.action for e in store.audit_log()] == ["store.migrate"]


def test_audit_log_filters_by_action_prefix_and_limit(store: MetadataStore) -> None:
    for target in ["dataset:orders", "dataset:orders@1", "model:churn", "dataset:o_rders"]:
        with store.write(ALICE, target.split(":")[0] + ".touch", target):
            pass
    targets = [e.target for e in store.audit_log(target_prefix="dataset:orders")]
    assert targets == ["dataset:orders", "dataset:orders@1"]
    assert [e.target for e in store.audit_log(action="model.touch")] == ["model:churn"]
    assert [e.seq for e in store.audit_log(limit=2)] == [4, 5]
    assert [e.target for e in store.audit_log(action="dataset.touch", limit=1)] == [
        "dataset:o_rders"
    ]


def test_audit_verifies_after_many_writes(store: MetadataStore) -> None:
    for index in range(5):
        with store.write(ALICE, "thing.touch", f"thing:{index}", details={"i": [index, 1.5]}):
            pass
    result = store.verify_audit()
    assert (result.ok, result.count, result.first_broken_seq) == (True, 6, None)


def test_tampered_details_are_named_by_seq(store: MetadataStore) -> None:
    for index in range(4):
        with store.write(ALICE, "thing.touch", f"thing:{index}", details={"i": index}):
            pass
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET details = :d WHERE seq = 3"), {"d": '{"i": 99}'})
    result = store.verify_audit()
    assert (result.ok, result.first_broken_seq) == (False, 3)
    assert result.reason is not None
    assert "content changed" in result.reason


def test_deleted_event_is_named_by_seq(store: MetadataStore) -> None:
    for index in range(4):
        with store.write(ALICE, "thing.touch", f"thing:{index}"):
            pass
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    result = store.verify_audit()
    assert (result.ok, result.first_broken_seq) == (False, 2)
    assert result.reason is not None
    assert "seq gap" in result.reason


def test_transact_returns_the_body_result_and_audits_it(store: MetadataStore) -> None:
    def create(tx: WriteTx) -> int:
        return add_dataset(tx, "orders").id

    dataset_id = store.transact(ALICE, "dataset.create", "dataset:orders", create)
    assert isinstance(dataset_id, int)
    assert store.audit_log()[-1].target == "dataset:orders"


def test_transact_gives_up_on_a_permanent_conflict(store: MetadataStore) -> None:
    with store.write(ALICE, "dataset.create", "dataset:orders") as tx:
        add_dataset(tx, "orders")
    attempts: list[int] = []

    def duplicate(tx: WriteTx) -> None:
        attempts.append(1)
        add_dataset(tx, "orders")

    with pytest.raises(StoreError, match=r"still conflicted .* after 2 retries") as info:
        store.transact(ALICE, "dataset.create", "dataset:orders", duplicate, retries=2)
    assert isinstance(info.value.__cause__, SQLIntegrityError)
    assert len(attempts) == 3
    assert len(store.audit_log()) == 2


def test_referenced_hashes_are_the_distinct_registered_ones(store: MetadataStore) -> None:
    with store.write(ALICE, "dataset.add", "dataset:orders@1") as tx:
        tx.session.add_all(
            [
                ArtifactRefRow(hash="a" * 64, owner="dataset:orders@1"),
                ArtifactRefRow(hash="a" * 64, owner="dataset:orders@2"),
                ArtifactRefRow(hash="b" * 64, owner="dataset:orders@2"),
            ]
        )
    assert store.referenced_hashes() == {"a" * 64, "b" * 64}


def test_foreign_keys_are_enforced(store: MetadataStore) -> None:
    def orphan_version() -> None:
        with store.write(ALICE, "dataset.add", "dataset:ghost") as tx:
            add_version(tx, DatasetRow(id=12345), 1)

    with pytest.raises(SQLIntegrityError, match=r"(?i)foreign key"):
        orphan_version()
    assert len(store.audit_log()) == 1
