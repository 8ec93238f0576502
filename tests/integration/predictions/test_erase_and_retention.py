"""Erasure and retention on SQLite and PostgreSQL: rows go, the rest stays readable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.core import Actor
from conveyor.predictions import (
    InvalidPredictionRecordError,
    PiiPolicy,
    PredictionLog,
    PredictionRecord,
    RemovalResult,
)
from conveyor.store import MetadataStore, open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = b"k" * 32


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


@pytest.fixture
def log(store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path) -> PredictionLog:
    return PredictionLog(store, artifacts, actor=Actor("ops"), root=tmp_path)


def rec(i: int, email: Any, *, version: int = 1, second: float | None = None) -> PredictionRecord:
    at = T0 + timedelta(seconds=i if second is None else second)
    inputs = {"age": 20 + i, "email": email}
    return PredictionRecord(f"r{i}", at, "churn", version, inputs, i % 2, 0.5)


def test_erase_removes_the_rows_and_labels_of_one_value_and_keeps_the_others(
    log: PredictionLog, store: MetadataStore, artifacts: ArtifactStore
) -> None:
    """Partitions holding the value are rewritten; others are untouched; counts audited."""
    first = log.write([rec(1, "ana@example.com"), rec(2, "bo@example.com")])
    untouched = log.write([rec(3, "bo@example.com", version=2)])
    log.write([rec(4, "ana@example.com", version=3)])
    log.feedback({"r1": 1, "r2": 0, "r4": 1})
    result = log.erase("email", "ana@example.com")
    assert result == RemovalResult(rows=2, partitions=2, labels=2)
    frame = log.read()
    assert sorted(frame["request_id"]) == ["r2", "r3"]
    assert "ana@example.com" not in set(frame["in_email"])
    assert set(log.records.labels(["r1", "r2", "r4"])) == {"r2"}
    ids = {p.id for p in log.records.partitions()}
    assert untouched.partitions[0].id in ids
    assert first.partitions[0].id not in ids
    # the old object is no longer referenced: garbage collection may take it
    assert first.partitions[0].content_hash not in store.referenced_hashes()
    assert artifacts.exists(first.partitions[0].content_hash)
    (event,) = [e for e in store.audit_log() if e.action == "predictions.erase"]
    assert event.target == "predictions:email"
    assert {k: event.details[k] for k in ("column", "rows", "partitions", "labels")} == {
        "column": "email",
        "rows": 2,
        "partitions": 2,
        "labels": 2,
    }
    assert "ana@example.com" not in repr(event.details)


def test_erasing_a_value_nobody_has_writes_nothing(
    log: PredictionLog, store: MetadataStore
) -> None:
    log.write([rec(1, "bo@example.com")])
    assert log.erase("email", "nobody@example.com") == RemovalResult(rows=0, partitions=0)
    assert log.erase("no_such_column", "x") == RemovalResult(rows=0, partitions=0)
    assert [e for e in store.audit_log() if e.action == "predictions.erase"] == []


def test_a_number_logged_is_erased_by_its_text(log: PredictionLog) -> None:
    """The command line passes text: ``"42"`` erases an input logged as 42, not 420."""
    log.write([rec(1, 42), rec(2, 420), rec(3, True)])
    assert log.erase("email", "42").rows == 1
    assert log.erase("email", 1).rows == 0  # True is not 1
    assert sorted(log.read()["request_id"]) == ["r2", "r3"]


def test_a_hashed_column_is_erased_by_its_clear_value(log: PredictionLog) -> None:
    """The value is hashed with the same key before matching."""
    log.privacy = PiiPolicy(frozenset({"email"}), "hash", KEY)
    log.write([rec(1, "ana@example.com"), rec(2, "bo@example.com")])
    stored = set(log.read()["in_email"])
    assert "ana@example.com" not in stored
    assert log.erase("email", "ana@example.com").rows == 1
    assert log.read()["request_id"].tolist() == ["r2"]


def test_a_dropped_column_was_never_stored_so_nothing_is_erased(log: PredictionLog) -> None:
    log.privacy = PiiPolicy(frozenset({"email"}), "drop")
    log.write([rec(1, "ana@example.com")])
    assert "in_email" not in log.read().columns
    assert log.erase("email", "ana@example.com").rows == 0


def test_expire_drops_old_partitions_and_trims_those_straddling_the_cutoff(
    log: PredictionLog, store: MetadataStore
) -> None:
    """Rows older than the cutoff go (with their labels), newer rows stay readable."""
    log.write([rec(1, "a"), rec(2, "b")])  # all old
    log.write([rec(3, "c", version=2), rec(50, "d", version=2)])  # straddles
    log.write([rec(60, "e", version=3)])  # all new
    log.feedback({"r1": 1, "r3": 0, "r50": 1})
    result = log.expire(T0 + timedelta(seconds=10))
    assert result == RemovalResult(rows=3, partitions=2, labels=2)
    assert sorted(log.read()["request_id"]) == ["r50", "r60"]
    assert set(log.records.labels(["r1", "r3", "r50"])) == {"r50"}
    (trimmed,) = log.records.partitions(version=2)
    assert (trimmed.rows, trimmed.first_at) == (1, T0 + timedelta(seconds=50))
    (event,) = [e for e in store.audit_log() if e.action == "predictions.retention"]
    assert (event.details["rows"], event.details["partitions"]) == (3, 2)
    assert log.expire(T0 + timedelta(seconds=10)) == RemovalResult(rows=0, partitions=0)


@pytest.mark.parametrize("column", ["", "x" * 257, "bad\ncolumn", "nul\x00"])
def test_a_hostile_column_name_is_refused_before_anything_is_read(
    log: PredictionLog, column: str
) -> None:
    log.write([rec(1, "a")])
    with pytest.raises(InvalidPredictionRecordError, match=r"Cannot erase by column") as caught:
        log.erase(column, "a")
    assert len(str(caught.value)) < 300
    assert caught.value.hint is not None


def test_a_huge_value_matches_nothing_and_is_not_echoed(
    log: PredictionLog, store: MetadataStore
) -> None:
    log.write([rec(1, "a")])
    huge = "v" * 1_000_000
    assert log.erase("email", huge) == RemovalResult(rows=0, partitions=0)
    assert all(huge[:100] not in repr(e.details) for e in store.audit_log())
