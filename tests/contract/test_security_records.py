"""The token records contract, run against the SQL records on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.security import BaseTokenRecords, SqlTokenRecords, Tokens
from conveyor.store import MetadataStore, open_store
from conveyor.testing.records._security import HASH, AuditLog, TokenRecordsContract, token


class TestSqlTokenRecords(TokenRecordsContract):
    @pytest.fixture
    def records(self, store: MetadataStore) -> BaseTokenRecords:
        return SqlTokenRecords(store)

    @pytest.fixture
    def audit_log(self, store: MetadataStore) -> AuditLog:
        return store.audit_log


def test_tokens_survive_reopening_the_store(metadata_url: str, actor: Actor) -> None:
    """A token created by one process verifies in a restarted one."""
    with open_store(metadata_url) as store:
        secret, _ = Tokens(SqlTokenRecords(store)).create("ci", "predictor", actor=actor)
        SqlTokenRecords(store).add(actor, token("other"), HASH)
    with open_store(metadata_url) as store:
        assert Tokens(SqlTokenRecords(store)).verify(secret, client="c").name == "ci"
        assert store.verify_audit().ok
