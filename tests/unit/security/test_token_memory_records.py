"""The token records contract holds for a backend without SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from token_memory import MemoryTokenRecords

from conveyor.core import Actor
from conveyor.store import AuditEvent
from conveyor.testing.records._security import AuditLog, TokenRecordsContract


@pytest.fixture
def actor() -> Actor:
    return Actor(name="unit-tester", kind="user")


class TestMemoryTokenRecords(TokenRecordsContract):
    @pytest.fixture
    def records(self) -> MemoryTokenRecords:
        return MemoryTokenRecords()

    @pytest.fixture
    def audit_log(self, records: MemoryTokenRecords) -> AuditLog:
        def log() -> list[AuditEvent]:
            return [
                AuditEvent(seq, datetime.now(UTC), who, action, target, details, "", "")
                for seq, (who, action, target, details) in enumerate(records.audit, 1)
            ]

        return log
