"""The monitoring records contract holds for a backend without SQL; alerts announce once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from monitoring_memory import MemoryMonitoringRecords

from conveyor.core import Actor
from conveyor.monitoring._records import open_alerts, update_incident
from conveyor.store import AuditEvent
from conveyor.testing.records._monitoring import (
    AuditLog,
    MonitoringRecordsContract,
    ReferencedHashes,
)

ACTOR = Actor(name="unit-tester", kind="user")


@pytest.fixture
def actor() -> Actor:
    return ACTOR


class TestMemoryMonitoringRecords(MonitoringRecordsContract):
    @pytest.fixture
    def records(self) -> MemoryMonitoringRecords:
        return MemoryMonitoringRecords()

    @pytest.fixture
    def audit_log(self, records: MemoryMonitoringRecords) -> AuditLog:
        def log() -> list[AuditEvent]:
            return [
                AuditEvent(seq, datetime.now(UTC), who, action, target, details, "", "")
                for seq, (who, action, target, details) in enumerate(records.audit, 1)
            ]

        return log

    @pytest.fixture
    def referenced_hashes(self, records: MemoryMonitoringRecords) -> ReferencedHashes:
        return lambda: set(records.referenced)


def test_an_incident_is_announced_when_it_opens_and_when_it_closes_only() -> None:
    records = MemoryMonitoringRecords()
    said: list[tuple[str, dict[str, Any]]] = []

    def step(active: bool, report: int) -> str | None:
        return update_incident(
            records,
            ACTOR,
            incident_key="production:churn:drift",
            kind="drift",
            active=active,
            details={"report": report},
            announce=lambda event, payload: said.append((event, payload)),
        )

    states = [step(active, n) for n, active in enumerate([False, True, True, False, False], 1)]
    assert states == [None, "opened", "ongoing", "closed", None]
    assert said == [
        ("monitor.alert", {"incident": "production:churn:drift", "kind": "drift", "report": 2}),
        ("monitor.recovered", {"incident": "production:churn:drift", "kind": "drift", "report": 4}),
    ]
    assert open_alerts(records) == []
