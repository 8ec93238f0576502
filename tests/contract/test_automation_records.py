"""The automation records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor.automation import BaseAutomationRecords, SqlAutomationRecords
from conveyor.core import Actor
from conveyor.store import MetadataStore, open_store
from conveyor.testing.records._automation import (
    T0,
    TTL,
    AuditLog,
    AutomationRecordsContract,
    claim,
    new_event,
)


class TestSqlAutomationRecords(AutomationRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseAutomationRecords:
        return SqlAutomationRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_the_lease_and_events_survive_reopening_the_store(metadata_url: str, actor: Actor) -> None:
    """What one agent process recorded is what a restarted one reads."""
    with open_store(metadata_url) as store:
        records = SqlAutomationRecords(store)
        records.take_lease(actor, name="agent", holder="agent-a", now=T0, expires_at=T0 + TTL)
        recorded = records.record_events(
            actor,
            claim(at=T0 + timedelta(seconds=1)),
            [new_event("k/run")],
            action="agent.run",
            target="model:churn",
            parent_id=None,
        )
    with open_store(metadata_url) as store:
        records = SqlAutomationRecords(store)
        info = records.lease("agent")
        assert info is not None
        assert (info.holder, info.expires_at) == ("agent-a", T0 + TTL)
        assert records.events() == recorded
