"""The monitoring records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.monitoring._records_base import BaseMonitoringRecords
from conveyor.monitoring._sql import SqlMonitoringRecords
from conveyor.store import MetadataStore, open_store
from conveyor.testing.records._monitoring import (
    AuditLog,
    MonitoringRecordsContract,
    ReferencedHashes,
    report_fields,
)


class TestSqlMonitoringRecords(MonitoringRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseMonitoringRecords:
        return SqlMonitoringRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log

    @pytest.fixture
    def referenced_hashes(self, store: MetadataStore) -> ReferencedHashes:
        return store.referenced_hashes


def test_reports_and_open_incidents_survive_reopening_the_store(
    metadata_url: str, actor: Actor
) -> None:
    """A report and an open incident read by a new process are the ones written."""
    with open_store(metadata_url) as store:
        records = SqlMonitoringRecords(store)
        stored = records.add_report(actor, **report_fields())
        records.update_incident(
            actor, incident_key="production:churn:drift", kind="drift", active=True, details={}
        )
    with open_store(metadata_url) as store:
        records = SqlMonitoringRecords(store)
        assert records.reports() == [stored]
        assert [a.incident_key for a in records.open_alerts()] == ["production:churn:drift"]
