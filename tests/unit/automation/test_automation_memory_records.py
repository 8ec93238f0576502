"""The automation records contract holds for a backend without SQL; the lease rests on it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from automation_memory import MemoryAutomationRecords

from conveyor.automation import Lease, LeaseLostError
from conveyor.core import Actor
from conveyor.store import AuditEvent
from conveyor.testing.records._automation import AuditLog, AutomationRecordsContract, new_event

ACTOR = Actor(name="unit-tester", kind="user")


@pytest.fixture
def actor() -> Actor:
    return ACTOR


class TestMemoryAutomationRecords(AutomationRecordsContract):
    @pytest.fixture
    def records(self) -> MemoryAutomationRecords:
        return MemoryAutomationRecords()

    @pytest.fixture
    def audit_log(self, records: MemoryAutomationRecords) -> AuditLog:
        def log() -> list[AuditEvent]:
            return [
                AuditEvent(seq, datetime.now(UTC), who, action, target, details, "", "")
                for seq, (who, action, target, details) in enumerate(records.audit, 1)
            ]

        return log


class Clock:
    """Seconds since the epoch, advanced by hand."""

    def __init__(self) -> None:
        self.t = datetime(2026, 3, 1, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.t


def _lease(records: MemoryAutomationRecords, clock: Clock, holder: str) -> Lease:
    # The store is not touched when records are given.
    return Lease(None, actor=ACTOR, holder=holder, ttl_s=60, clock=clock, records=records)


def test_one_of_two_agents_holds_the_lease_until_it_expires() -> None:
    records, clock = MemoryAutomationRecords(), Clock()
    first, second = _lease(records, clock, "a"), _lease(records, clock, "b")
    assert first.acquire()
    assert not second.acquire()
    clock.t += 30
    assert first.acquire()  # held: renewed, not taken again
    assert [entry[1] for entry in records.audit] == ["agent.lease"]
    clock.t += 61
    assert second.acquire()
    assert not first.renew()
    info = first.current()
    assert info is not None
    assert info.holder == "b"


def test_a_released_lease_is_free_at_once() -> None:
    records, clock = MemoryAutomationRecords(), Clock()
    first, second = _lease(records, clock, "a"), _lease(records, clock, "b")
    assert first.acquire()
    first.release()
    assert second.acquire()


def test_a_claim_is_checked_when_the_step_is_written() -> None:
    records, clock = MemoryAutomationRecords(), Clock()
    lease = _lease(records, clock, "a")
    assert lease.acquire()
    claim = lease.claim()
    clock.t += 61  # the lease expires between taking the claim and writing the step
    with pytest.raises(LeaseLostError, match="no longer holds lease 'agent'"):
        records.record_events(
            ACTOR, claim, [new_event("k/run")], action="agent.run", target="t", parent_id=None
        )
    assert records.events() == []
