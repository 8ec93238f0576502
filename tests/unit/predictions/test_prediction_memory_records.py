"""Prediction records held in memory: the contract holds, and PredictionLog runs on them.

The in-memory records show that :class:`PredictionLog` needs nothing but the interface and
the artifact store: no metadata store is opened for the log below.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor, utcnow
from conveyor.predictions import (
    BasePredictionRecords,
    FeedbackLabel,
    FeedbackResult,
    NewPartition,
    PartitionInfo,
    PredictionLog,
    PredictionLogError,
    PredictionRecord,
    ServingUsage,
)
from conveyor.store import AuditEvent
from conveyor.testing.records._predictions import AuditLog, PredictionRecordsContract

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryPredictionRecords(BasePredictionRecords):
    """The partition index and the labels in lists and dictionaries, audited into a list."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._partitions: list[PartitionInfo] = []
        self._labels: dict[str, FeedbackLabel] = {}
        self._usage: dict[tuple[str, str, int], ServingUsage] = {}
        self._next_id = 0
        self._lock = threading.Lock()

    def add_partitions(
        self, actor: Actor, partitions: Sequence[NewPartition], *, idempotent: bool = False
    ) -> list[PartitionInfo]:
        if not partitions:
            return []
        with self._lock:
            indexed = []
            for partition in partitions:
                known = next(
                    (p for p in self._partitions if p.content_hash == partition.content_hash),
                    None,
                )
                if known is None or not idempotent:
                    self._next_id += 1
                    known = PartitionInfo(id=self._next_id, **asdict(partition))
                    self._partitions.append(known)
                indexed.append(known)
            first = partitions[0]
            target = (
                "predictions"
                if len(partitions) > 1
                else f"predictions:{first.model}@{first.version}"
            )
            rows = sum(p.rows for p in partitions)
            self._audit(
                actor, "predictions.log", target, {"rows": rows, "batches": [p.id for p in indexed]}
            )
            return indexed

    def partitions(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        variant: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PartitionInfo]:
        wanted: dict[str, Any] = {
            "model": model,
            "version": version,
            "environment": environment,
            "variant": variant,
        }
        found = [
            p
            for p in self._partitions
            if all(value is None or getattr(p, key) == value for key, value in wanted.items())
            and (since is None or p.last_at >= since)
            and (until is None or p.first_at < until)
        ]
        return sorted(found, key=lambda p: (p.last_at, p.id), reverse=True)

    def labels(self, request_ids: Collection[str]) -> dict[str, FeedbackLabel]:
        return {i: self._labels[i] for i in request_ids if i in self._labels}

    def record_feedback(
        self,
        actor: Actor,
        labels: Mapping[str, Any],
        *,
        updates: Mapping[str, int] | None = None,
        overwrite: bool = True,
        unknown: int = 0,
    ) -> FeedbackResult:
        if not labels:
            return FeedbackResult(accepted=0, unknown=unknown, updated=0)
        times = updates or {}
        with self._lock:
            now = utcnow()
            existing = {i for i in labels if i in self._labels}
            for request_id, label in labels.items():
                had = self._labels.get(request_id)
                count = times.get(request_id, 1)
                if had is None:
                    self._labels[request_id] = FeedbackLabel(request_id, label, now, count, now)
                elif overwrite:
                    self._labels[request_id] = replace(
                        had, label=label, at=now, updates=had.updates + count
                    )
            kept = 0 if overwrite else len(existing)
            result = FeedbackResult(
                accepted=len(labels) - kept,
                unknown=unknown,
                updated=len(existing) - kept,
                kept=kept,
            )
            details = {
                "accepted": result.accepted,
                "unknown": unknown,
                "updated": result.updated,
                "kept": kept,
            }
            self._audit(actor, "predictions.feedback", "predictions:feedback", details)
            return result

    def replace_partitions(
        self,
        actor: Actor,
        action: str,
        target: str,
        replacements: Mapping[int, NewPartition | None],
        *,
        forget_labels: Collection[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> list[PartitionInfo]:
        if not replacements and not forget_labels:
            return []
        with self._lock:
            known = {p.id for p in self._partitions}
            missing = [i for i in replacements if i not in known]
            if missing:
                raise PredictionLogError(f"Prediction batches {missing} are not indexed.")
            self._partitions = [p for p in self._partitions if p.id not in replacements]
            added = []
            for partition in replacements.values():
                if partition is not None:
                    self._next_id += 1
                    added.append(PartitionInfo(id=self._next_id, **asdict(partition)))
            self._partitions.extend(added)
            for request_id in forget_labels:
                self._labels.pop(request_id, None)
            removed = {"removed": list(replacements), "batches": [p.id for p in added]}
            self._audit(actor, action, target, {**(details or {}), **removed})
            return added

    def record_usage(self, actor: Actor, usage: Sequence[ServingUsage]) -> None:
        if not usage:
            return
        with self._lock:
            for u in usage:
                self._usage[(u.process_id, u.model, u.version)] = u
            details = {"predictions": sum(u.predictions for u in usage)}
            self._audit(actor, "serving.usage", f"serving:{usage[0].process_id}", details)

    def usage(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        since: datetime | None = None,
    ) -> list[ServingUsage]:
        with self._lock:
            found = [
                u
                for u in self._usage.values()
                if (model is None or u.model == model)
                and (version is None or u.version == version)
                and (environment is None or u.environment == environment)
                and (since is None or u.updated_at >= since)
            ]
        return sorted(found, key=lambda u: (u.started_at, u.process_id, u.version))

    def _audit(self, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
        self.events.append(
            AuditEvent(len(self.events) + 1, utcnow(), actor.name, action, target, details, "", "")
        )


class TestMemoryPredictionRecords(PredictionRecordsContract):
    @pytest.fixture
    def records(self) -> MemoryPredictionRecords:
        return MemoryPredictionRecords()

    @pytest.fixture
    def audit_log(self, records: MemoryPredictionRecords) -> AuditLog:
        return lambda: list(records.events)


def test_the_prediction_log_runs_on_records_in_memory(tmp_path: Path) -> None:
    """Write, window, count and feedback go through the interface and the artifact store."""
    records = MemoryPredictionRecords()
    store: Any = None  # no metadata store: the index and the labels live in ``records``
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    log = PredictionLog(store, artifacts, actor=Actor("server"), root=tmp_path, records=records)
    batch = [
        PredictionRecord(f"r{i}", T0 + timedelta(seconds=i), "churn", 1 + i % 2, {"x": i}, i, 1.0)
        for i in range(6)
    ]
    info = log.write(batch)
    assert (info.rows, len(info.partitions)) == (6, 2)
    assert log.count() == 6
    assert log.count(version=2) == 3
    assert log.count(since=T0 + timedelta(seconds=2)) == 4
    result = log.feedback({"r1": 1, "r4": 0, "ghost": 1}, keep_unknown=False)
    assert result == FeedbackResult(accepted=2, unknown=1, updated=0, kept=0)
    frame = log.read(since=T0 + timedelta(seconds=1), last_rows=4)
    assert frame["request_id"].tolist() == ["r2", "r3", "r4", "r5"]
    assert frame["label"].tolist() == [None, None, 0, None]
    assert [e.action for e in records.events] == ["predictions.log", "predictions.feedback"]
