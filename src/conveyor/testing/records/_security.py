"""The contract of :class:`~conveyor.security.BaseTokenRecords`, as a test suite.

Subclass :class:`TokenRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.core import Actor
from conveyor.security import (
    BaseTokenRecords,
    Role,
    TokenExistsError,
    TokenInfo,
    TokenNotFoundError,
    hash_secret,
)
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
HASH = hash_secret("cvy_" + "a" * 43)


def token(name: str = "ci", **fields: object) -> TokenInfo:
    """A developer token created at T0 by ``alice``, scoped to staging, expiring in a day."""
    values: dict[str, object] = {
        "role": Role.DEVELOPER,
        "environments": ("staging",),
        "created_at": T0,
        "created_by": "alice",
        "expires_at": T0 + timedelta(days=1),
    }
    values.update(fields)
    return TokenInfo(name=name, **values)  # type: ignore[arg-type]


class TokenRecordsContract:
    """Every behaviour :class:`BaseTokenRecords` documents, one test each."""

    def test_an_added_token_reads_back_equal_by_name_and_by_hash(
        self, records: BaseTokenRecords, actor: Actor
    ) -> None:
        stored = records.add(actor, token(), HASH)
        assert stored == token()
        assert records.get("ci") == stored
        assert records.find(HASH) == stored
        assert stored.created_at is not None
        assert stored.created_at.tzinfo is not None

    def test_unknown_names_and_hashes_are_none(self, records: BaseTokenRecords) -> None:
        assert records.get("ci") is None
        assert records.find(HASH) is None

    def test_adding_is_audited_without_the_hash(
        self, records: BaseTokenRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.add(actor, token(), HASH)
        events = [e for e in audit_log() if e.action == "token.create"]
        assert [(e.actor, e.target) for e in events] == [(actor.name, "token:ci")]
        assert events[0].details == {
            "role": "developer",
            "environments": ["staging"],
            "expires_at": (T0 + timedelta(days=1)).isoformat(),
        }
        assert HASH not in repr([e.details for e in audit_log()])

    def test_a_taken_name_is_refused_and_nothing_is_written(
        self, records: BaseTokenRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.add(actor, token(), HASH)
        before = len(audit_log())
        with pytest.raises(TokenExistsError, match="'ci' exists already"):
            records.add(actor, token(role=Role.ADMIN), hash_secret("other"))
        assert len(audit_log()) == before
        assert records.find(hash_secret("other")) is None
        assert records.get("ci") == token()

    def test_list_holds_every_token_by_name(self, records: BaseTokenRecords, actor: Actor) -> None:
        records.add(actor, token("web"), hash_secret("1"))
        records.add(actor, token("ci", expires_at=None, environments=()), hash_secret("2"))
        assert [t.name for t in records.list()] == ["ci", "web"]
        assert records.list()[0].expires_at is None

    def test_revoking_sets_the_time_once_and_is_audited_once(
        self, records: BaseTokenRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.add(actor, token(), HASH)
        at = T0 + timedelta(hours=1)
        assert records.revoke(actor, "ci", at).revoked_at == at
        assert records.revoke(actor, "ci", at + timedelta(hours=1)).revoked_at == at
        assert records.find(HASH) == token(revoked_at=at)
        assert [e.target for e in audit_log() if e.action == "token.revoke"] == ["token:ci"]

    def test_revoking_an_unknown_name_raises(self, records: BaseTokenRecords, actor: Actor) -> None:
        with pytest.raises(TokenNotFoundError, match="No token is named 'nope'"):
            records.revoke(actor, "nope", T0)

    def test_touch_sets_last_used_without_an_audit_event(
        self, records: BaseTokenRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.add(actor, token(), HASH)
        before = len(audit_log())
        records.touch("ci", T0 + timedelta(minutes=5))
        info = records.get("ci")
        assert info is not None
        assert info.last_used_at == T0 + timedelta(minutes=5)
        assert len(audit_log()) == before

    def test_record_appends_one_event(
        self, records: BaseTokenRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.record(actor, "token.rejected", "token:?", {"client": "10.0.0.7"})
        last = audit_log()[-1]
        assert (last.action, last.target, last.details) == (
            "token.rejected",
            "token:?",
            {"client": "10.0.0.7"},
        )
