"""The prediction log on SQLite and PostgreSQL: round trips, windows, feedback joins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.core import Actor
from conveyor.errors import InvalidNameError
from conveyor.predictions import (
    InvalidPredictionRecordError,
    PredictionLog,
    PredictionRecord,
)
from conveyor.store import MetadataStore, open_store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


@pytest.fixture
def log(store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path) -> PredictionLog:
    return PredictionLog(store, artifacts, actor=Actor("server"), root=tmp_path)


def rec(i: int, *, second: float | None = None, **changes: Any) -> PredictionRecord:
    fields: dict[str, Any] = {
        "request_id": f"r{i}",
        "at": T0 + timedelta(seconds=i if second is None else second),
        "model": "churn",
        "version": 1,
        "inputs": {"age": 20 + i, "plan": "basic"},
        "prediction": i % 2,
        "latency_ms": 0.5,
    }
    fields.update(changes)
    return PredictionRecord(**fields)


def test_written_predictions_read_back_with_inputs_outputs_and_coordinates(
    log: PredictionLog, store: MetadataStore
) -> None:
    info = log.write([rec(1), rec(2, prediction=[0.3, 0.7], environment="prod", variant="blue")])
    assert info.rows == 2
    assert len(info.partitions) == 2  # one Parquet object per model version and variant
    frame = log.read()
    assert frame["request_id"].tolist() == ["r1", "r2"]
    assert frame["in_age"].tolist() == [21, 22]
    assert frame["prediction"].tolist() == [1, [0.3, 0.7]]
    assert frame["environment"].isna().tolist() == [True, False]
    assert frame["variant"].iloc[1] == "blue"
    assert frame["at"].tolist() == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    events = store.audit_log(action="predictions.log")
    assert len(events) == 1
    assert events[0].details["rows"] == 2
    assert store.referenced_hashes() == {p.content_hash for p in info.partitions}


def test_a_window_by_time_includes_since_and_excludes_until(log: PredictionLog) -> None:
    log.write([rec(i) for i in range(0, 10)])
    log.write([rec(i) for i in range(10, 20)])
    since, until = T0 + timedelta(seconds=8), T0 + timedelta(seconds=12)
    frame = log.read(since=since, until=until)
    assert frame["request_id"].tolist() == ["r8", "r9", "r10", "r11"]
    assert log.count(since=since, until=until) == 4
    assert log.count() == 20
    assert log.count(since=T0 + timedelta(seconds=10)) == 10


def test_last_rows_are_the_newest_even_when_batches_overlap_in_time(log: PredictionLog) -> None:
    log.write([rec(i, second=2 * i) for i in range(10)])  # even seconds 0..18
    log.write([rec(100 + i, second=2 * i + 1) for i in range(5)])  # odd seconds 1..9
    log.write([rec(200 + i, second=30 + i) for i in range(3)])  # 30..32
    frame = log.read(last_rows=6)
    assert frame["request_id"].tolist() == ["r7", "r8", "r9", "r200", "r201", "r202"]
    assert log.read(last_rows=0).empty
    assert len(log.read(last_rows=1000)) == 18


def test_reading_a_window_opens_only_the_batches_that_overlap_it(
    log: PredictionLog, artifacts: ArtifactStore
) -> None:
    old = log.write([rec(i) for i in range(5)])
    log.write([rec(i) for i in range(100, 105)])
    artifacts.delete(old.partitions[0].content_hash)  # reading it now would fail
    frame = log.read(since=T0 + timedelta(seconds=50))
    assert frame["request_id"].tolist() == [f"r{i}" for i in range(100, 105)]
    assert log.read(last_rows=5)["request_id"].tolist() == [f"r{i}" for i in range(100, 105)]


def test_filters_by_model_version_and_environment(log: PredictionLog) -> None:
    log.write([rec(1), rec(2, version=2), rec(3, version=2, environment="prod")])
    assert log.read(version=2)["request_id"].tolist() == ["r2", "r3"]
    assert log.read(environment="prod")["request_id"].tolist() == ["r3"]
    assert log.count(model="churn", version=1) == 1
    assert log.read(model="other").empty


def test_feedback_joins_by_request_id_and_a_later_label_wins(log: PredictionLog) -> None:
    log.write([rec(1), rec(2), rec(3)])
    first = log.feedback({"r1": "yes", "r2": "no", "ghost": "yes"})
    assert (first.accepted, first.unknown, first.updated) == (3, 1, 0)
    second = log.feedback([("r1", "no"), ("r1", "maybe")])
    assert (second.accepted, second.unknown, second.updated) == (1, 0, 1)
    frame = log.read()
    assert frame["label"].tolist() == ["maybe", "no", None]
    assert frame["label_at"].isna().tolist() == [False, False, True]
    labels = log.records.labels(["r1", "r2", "r3", "ghost"])
    updates = {request_id: label.updates for request_id, label in labels.items()}
    assert updates == {"r1": 3, "r2": 1, "ghost": 1}
    assert log.read(with_feedback=False).columns[-1] == "prediction"


def test_a_label_that_arrives_before_its_prediction_still_joins(log: PredictionLog) -> None:
    assert log.feedback({"r7": 1}).unknown == 1
    log.write([rec(7)])
    assert log.read()["label"].tolist() == [1]


def test_bad_feedback_and_windows_are_refused_with_a_reason(log: PredictionLog) -> None:
    with pytest.raises(InvalidPredictionRecordError, match=r"label for request 'r1' is not a JSON"):
        log.feedback({"r1": float("nan")})
    with pytest.raises(InvalidPredictionRecordError, match="invalid request id ''"):
        log.feedback({"": 1})
    with pytest.raises(InvalidPredictionRecordError, match=r"since=.* has no time zone"):
        log.read(since=datetime(2026, 1, 1))
    with pytest.raises(InvalidNameError, match="Invalid model name 'no/slash'"):
        log.write([rec(1, model="no/slash")])


def test_an_idempotent_write_of_the_same_batch_adds_nothing(
    log: PredictionLog, store: MetadataStore
) -> None:
    batch = [rec(i) for i in range(4)]
    first = log.write(batch, idempotent=True)
    again = log.write(batch, idempotent=True)
    assert again.partitions == first.partitions
    assert len(log.records.partitions()) == 1
    assert log.count() == 4


def test_an_empty_log_reads_as_an_empty_frame(log: PredictionLog) -> None:
    frame = log.read()
    assert frame.empty
    assert {"request_id", "at", "prediction", "label"} <= set(frame.columns)
    assert log.count() == 0
    assert log.write([]).rows == 0
