"""The contract of :class:`~conveyor.data.BaseDatasetRecords`, as a test suite.

Subclass :class:`DatasetRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.core import Actor, hash_bytes
from conveyor.data import (
    AddStats,
    BaseDatasetRecords,
    DatasetSummary,
    DatasetVersion,
    DatasetVersionConflictError,
)
from conveyor.errors import DatasetNotFoundError, VersionNotFoundError
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]
_T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def digest(text: str) -> str:
    """A content hash (of ``text``), as manifests and objects are named."""
    return hash_bytes(text.encode())


def sample_version(name: str, number: int, **fields: Any) -> DatasetVersion:
    """Version ``number`` of a table dataset ``name`` (fields may be overridden)."""
    values: dict[str, Any] = {
        "kind": "table",
        "content_hash": digest(f"manifest {name}@{number}"),
        "size_bytes": 1000 * number,
        "file_count": 1,
        "row_count": 10 * number,
        "schema": {"id": "int64", "city": "string"},
        "profile": {"row_count": 10 * number, "columns": {"city": {"top": [{"value": "Oslo"}]}}},
        "parent_version": number - 1 if number > 1 else None,
        "message": f"version {number}",
        "source": f"data/{name}.csv",
        "created_at": _T0 + timedelta(minutes=number),
        "created_by": "contract-tester",
        **fields,
    }
    return DatasetVersion(name=name, version=number, **values)


def objects_of(version: DatasetVersion) -> set[str]:
    """The data object hashes a sample version references."""
    return {digest(f"data {version.ref}"), digest(f"original {version.ref}")}


def _add(records: BaseDatasetRecords, actor: Actor, name: str, count: int) -> list[DatasetVersion]:
    added = []
    for number in range(1, count + 1):
        version = sample_version(name, number)
        added.append(records.add_version(actor, version, objects_of(version)))
    return added


class DatasetRecordsContract:
    """Every test a :class:`~conveyor.data.BaseDatasetRecords` implementation must pass."""

    # -- reading an empty backend --------------------------------------------------------

    def test_an_empty_backend_knows_no_dataset(self, records: BaseDatasetRecords) -> None:
        assert records.find_version("orders") is None
        assert records.find_version("orders", 1) is None
        assert records.versions("orders") == []
        assert records.summaries() == []

    def test_get_version_of_an_unknown_dataset_says_none_exist(
        self, records: BaseDatasetRecords
    ) -> None:
        with pytest.raises(DatasetNotFoundError, match="No dataset named 'orders'") as info:
            records.get_version("orders")
        assert "No datasets exist yet." in info.value.message
        assert info.value.hint is not None
        assert "conveyor data add orders" in info.value.hint
        with pytest.raises(DatasetNotFoundError, match="No datasets exist yet"):
            records.log("orders")

    # -- add_version ---------------------------------------------------------------------

    def test_the_first_version_creates_the_dataset(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        version = sample_version("orders", 1)
        stored = records.add_version(actor, version, objects_of(version))
        assert stored == version
        assert records.find_version("orders") == version
        assert records.find_version("orders", 1) == version
        assert records.get_version("orders", 1) == version
        assert records.versions("orders") == [version]

    def test_every_field_comes_back_exactly(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        """Nested schema and profile, ``None`` fields and microseconds round-trip losslessly."""
        version = sample_version(
            "survey",
            1,
            kind="folder",
            file_count=3,
            row_count=None,
            schema=None,
            profile={"columns": {"a": {"top": [{"value": "x", "share": 1 / 3}], "nulls": 0}}},
            message=None,
            source=None,
            created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        )
        records.add_version(actor, version, set())
        found = records.find_version("survey", 1)
        assert found == version
        assert found is not None
        assert found.created_at == version.created_at
        assert found.created_at.utcoffset() == timedelta(0)

    def test_a_profile_is_stored_as_given(self, records: BaseDatasetRecords, actor: Actor) -> None:
        """Sealed statistics are opaque to the backend: whatever dict is given comes back."""
        sealed = {"columns": {"city": {"top": {"$sealed": "v1:AAAA", "n": 3}, "count": 9}}}
        records.add_version(actor, sample_version("orders", 1, profile=sealed), set())
        found = records.get_version("orders")
        assert found.profile == sealed

    def test_add_only_fields_are_not_stored(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        version = sample_version("orders", 1, unchanged=True, stats=AddStats(files=1))
        stored = records.add_version(actor, version, set())
        assert (stored.unchanged, stored.stats) == (False, None)
        found = records.get_version("orders", 1)
        assert (found.unchanged, found.stats) == (False, None)

    def test_versions_are_numbered_from_one_without_gaps(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        added = _add(records, actor, "orders", 3)
        assert records.versions("orders") == added
        assert records.log("orders") == added[::-1]
        assert records.find_version("orders") == added[-1]
        assert records.get_version("orders") == added[-1]
        assert records.find_version("orders", 2) == added[1]
        assert records.find_version("orders", 4) is None

    def test_a_version_that_is_not_next_conflicts_and_writes_nothing(
        self, records: BaseDatasetRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        added = _add(records, actor, "orders", 2)
        before = len(audit_log())
        for number in (1, 2, 4):
            with pytest.raises(DatasetVersionConflictError, match="next version") as info:
                records.add_version(actor, sample_version("orders", number), set())
            assert info.value.hint is not None
            assert info.value.fields["version"] == number
        with pytest.raises(DatasetVersionConflictError):
            records.add_version(actor, sample_version("fresh", 2), set())
        assert records.versions("orders") == added
        assert records.find_version("fresh") is None
        assert len(audit_log()) == before

    def test_datasets_are_numbered_independently(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        _add(records, actor, "orders", 2)
        _add(records, actor, "customers", 1)
        assert [v.ref for v in records.versions("orders")] == ["orders@1", "orders@2"]
        assert [v.ref for v in records.versions("customers")] == ["customers@1"]

    def test_add_version_appends_one_audit_event(
        self, records: BaseDatasetRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        version = sample_version("orders", 1, file_count=4, kind="folder")
        records.add_version(actor, version, objects_of(version))
        events = [e for e in audit_log() if e.action == "data.add"]
        assert len(events) == 1
        assert events[0].actor == actor.name
        assert events[0].target == "dataset:orders@1"
        assert events[0].details == {
            "version": 1,
            "content_hash": version.content_hash,
            "kind": "folder",
            "files": 4,
        }

    def test_concurrent_writers_of_one_number_get_one_version(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        """Of writers racing for the same version number, exactly one wins."""
        outcomes: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(4)

        def write(index: int) -> None:
            version = sample_version("orders", 1, message=f"writer {index}")
            start.wait()
            try:
                records.add_version(actor, version, objects_of(version))
                outcome = "won"
            except DatasetVersionConflictError:
                outcome = "lost"
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
        assert len(records.versions("orders")) == 1

    # -- errors of get_version and log ---------------------------------------------------

    def test_a_missing_version_lists_the_versions_there_are(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        _add(records, actor, "orders", 3)
        with pytest.raises(VersionNotFoundError, match=r"no version 7\. Versions: 1-3\.") as info:
            records.get_version("orders", 7)
        assert info.value.fields == {"name": "orders", "version": 7}
        assert info.value.hint is not None
        assert "conveyor data log orders" in info.value.hint

    def test_a_missing_dataset_lists_the_first_known_names(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        for name in ("f", "e", "d", "c", "b", "a"):
            _add(records, actor, name, 1)
        with pytest.raises(
            DatasetNotFoundError, match=r"Known datasets: a, b, c, d, e, \.\.\.\."
        ) as info:
            records.get_version("orders", 1)
        assert info.value.fields == {"name": "orders"}
        with pytest.raises(DatasetNotFoundError, match="Known datasets: a, b"):
            records.log("orders")

    # -- summaries -----------------------------------------------------------------------

    def test_summaries_give_each_dataset_its_latest_version_sorted_by_name(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        orders = _add(records, actor, "orders", 3)
        version = sample_version("customers", 1, kind="file")
        records.add_version(actor, version, set())
        assert records.summaries() == [
            DatasetSummary("customers", 1, 1, "file", version.created_at),
            DatasetSummary("orders", 3, 3, "table", orders[-1].created_at),
        ]

    # -- import_versions -----------------------------------------------------------------

    def test_import_records_a_history_under_its_own_numbers(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        chain = [sample_version("orders", n, created_by="alice") for n in (1, 2, 3)]
        recorded = records.import_versions(actor, [(v, objects_of(v)) for v in chain])
        assert recorded == chain
        assert records.versions("orders") == chain
        next_version = sample_version("orders", 4)
        assert records.add_version(actor, next_version, set()) == next_version

    def test_import_skips_versions_already_recorded(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        (first,) = _add(records, actor, "orders", 1)
        chain = [sample_version("orders", n) for n in (1, 2, 3)]
        recorded = records.import_versions(actor, [(v, objects_of(v)) for v in chain])
        assert [v.ref for v in recorded] == ["orders@2", "orders@3"]
        assert records.versions("orders") == [first, *chain[1:]]
        assert records.import_versions(actor, [(v, set()) for v in chain]) == []

    def test_import_continues_a_dataset_known_here(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        added = _add(records, actor, "orders", 2)
        later = sample_version("orders", 3)
        assert records.import_versions(actor, [(later, objects_of(later))]) == [later]
        assert records.versions("orders") == [*added, later]

    def test_import_stores_versions_without_add_only_fields(
        self, records: BaseDatasetRecords, actor: Actor
    ) -> None:
        version = sample_version("orders", 1, unchanged=True, stats=AddStats(files=2))
        (recorded,) = records.import_versions(actor, [(version, set())])
        assert (recorded.unchanged, recorded.stats) == (False, None)
        assert records.get_version("orders") == replace(version, unchanged=False)

    def test_import_appends_one_audit_event_naming_what_it_recorded(
        self, records: BaseDatasetRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        _add(records, actor, "orders", 1)
        chain = [sample_version("orders", n) for n in (1, 2, 3)]
        records.import_versions(actor, [(v, set()) for v in chain])
        records.import_versions(actor, [(v, set()) for v in chain])
        events = [e for e in audit_log() if e.action == "data.pull"]
        assert [e.target for e in events] == ["dataset:orders@3"] * 2
        assert [e.details for e in events] == [
            {"versions": ["orders@2", "orders@3"]},
            {"versions": []},
        ]
        assert {e.actor for e in events} == {actor.name}

    def test_import_refuses_an_empty_or_mixed_list(
        self, records: BaseDatasetRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        with pytest.raises(ValueError, match="one dataset"):
            records.import_versions(actor, [])
        mixed: list[tuple[DatasetVersion, set[str]]] = [
            (sample_version("orders", 1), set()),
            (sample_version("customers", 1), set()),
        ]
        with pytest.raises(ValueError, match="one dataset"):
            records.import_versions(actor, mixed)
        assert records.summaries() == []
        assert [e for e in audit_log() if e.action == "data.pull"] == []
