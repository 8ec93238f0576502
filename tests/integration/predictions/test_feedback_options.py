"""Feedback through the Python API on SQLite and PostgreSQL: unknown ids dropped or kept,
labels overwritten only on request, ids about to be logged accepted as pending."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.predictions import FeedbackResult, PredictionLog, PredictionRecord
from conveyor.store import open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def log(metadata_url: str, tmp_path: Path) -> Iterator[PredictionLog]:
    with open_store(metadata_url) as store:
        artifacts = open_artifact_store(str(tmp_path / "artifacts"))
        yield PredictionLog(store, artifacts, actor=Actor("server"), root=tmp_path)


def _labels(log: PredictionLog, *ids: str) -> dict[str, object]:
    return {request_id: kept.label for request_id, kept in log.records.labels(ids).items()}


def test_unknown_ids_are_counted_and_dropped_when_asked(log: PredictionLog) -> None:
    at = [T0 + timedelta(seconds=i) for i in range(3)]
    log.write([PredictionRecord(f"r{i}", at[i], "churn", 1, {}, 0, 1.0) for i in range(3)])
    result = log.feedback(
        {"r0": 1, "ghost": 1, "pending": 0}, keep_unknown=False, pending={"pending"}
    )
    assert result == FeedbackResult(accepted=2, unknown=1, updated=0, kept=0)
    assert _labels(log, "r0", "ghost", "pending") == {"r0": 1, "pending": 0}
    nothing = log.feedback({"ghost-2": 1}, keep_unknown=False)
    assert nothing == FeedbackResult(accepted=0, unknown=1, updated=0, kept=0)
    assert len(log.store.audit_log(action="predictions.feedback")) == 1  # no write for nothing


def test_an_existing_label_is_replaced_only_with_overwrite(log: PredictionLog) -> None:
    log.write([PredictionRecord("r1", T0, "churn", 1, {}, 0, 1.0)])
    log.feedback({"r1": 0})
    kept = log.feedback({"r1": 1}, overwrite=False)
    assert kept == FeedbackResult(accepted=0, unknown=0, updated=0, kept=1)
    assert _labels(log, "r1") == {"r1": 0}
    replaced = log.feedback({"r1": 1})  # the Python API's default: the owner corrects labels
    assert replaced == FeedbackResult(accepted=1, unknown=0, updated=1, kept=0)
    assert _labels(log, "r1") == {"r1": 1}
