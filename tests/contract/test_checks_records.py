"""The check records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.checks import BaseCheckRecords, SqlCheckRecords
from conveyor.core import Actor
from conveyor.store import MetadataStore, open_store
from conveyor.testing.records._checks import (
    AuditLog,
    CheckRecordsContract,
    sample_decision,
    sample_document,
    sample_result,
    sample_suite,
)


class TestSqlCheckRecords(CheckRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseCheckRecords:
        return SqlCheckRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_records_survive_reopening_the_store(metadata_url: str, actor: Actor) -> None:
    """What a new process reads is what was written, field for field."""
    with open_store(metadata_url) as store:
        records = SqlCheckRecords(store)
        records.record_suite(actor, sample_suite("s1", sample_result("min_metric")))
        decision = records.record_decision(actor, sample_decision())
        schema, _ = records.add_schema(actor, "orders", 1, sample_document())
    with open_store(metadata_url) as store:
        records = SqlCheckRecords(store)
        (result,) = records.list_results("model", "churn@2")
        assert result.result == sample_result("min_metric")
        assert records.list_decisions("model", "churn@2") == [decision]
        assert records.list_schemas("orders") == [schema]


def test_the_audit_chain_stays_valid(store: MetadataStore, actor: Actor) -> None:
    records = SqlCheckRecords(store)
    before = len(store.audit_log())
    records.record_suite(actor, sample_suite("s1", sample_result("a")))
    records.record_decision(actor, sample_decision())
    records.add_schema(actor, "orders", 1, sample_document())
    records.add_schema(actor, "orders", 1, sample_document())  # unchanged: no event
    actions = [e.action for e in store.audit_log()[before:]]
    assert actions == ["checks.record", "gate.decide", "schema.infer"]
    assert store.verify_audit().ok
