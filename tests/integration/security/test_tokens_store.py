"""Tokens in a real metadata store: races on a name, and the audit trail they leave."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from conveyor.core import Actor
from conveyor.errors import ConveyorError
from conveyor.security import (
    InvalidTokenError,
    SqlTokenRecords,
    TokenExistsError,
    Tokens,
    hash_secret,
)
from conveyor.store import MetadataStore, open_store

ALICE = Actor("alice")


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


def test_of_two_concurrent_creations_of_one_name_exactly_one_wins(store: MetadataStore) -> None:
    tokens = Tokens(SqlTokenRecords(store))
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def create(role: str) -> None:
        barrier.wait()
        try:
            outcomes.append(tokens.create("ci", role, actor=ALICE))
        except ConveyorError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=create, args=(r,)) for r in ("viewer", "admin") * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [o for o in outcomes if isinstance(o, tuple)]
    assert len(won) == 1
    assert all(isinstance(o, TokenExistsError) for o in outcomes if o not in won)
    secret, info = won[0]  # type: ignore[misc]
    assert tokens.verify(secret, client="c").role == info.role
    assert [e.action for e in store.audit_log(action="token.create")] == ["token.create"]


def test_the_audit_trail_of_a_token_holds_no_secret(store: MetadataStore) -> None:
    tokens = Tokens(SqlTokenRecords(store))
    secret, _ = tokens.create("ci", "developer", environments=["staging"], actor=ALICE)
    tokens.verify(secret, client="127.0.0.1")
    tokens.revoke("ci", actor=ALICE)
    with pytest.raises(InvalidTokenError):
        tokens.verify(secret, client="127.0.0.1")
    events = store.audit_log(target_prefix="token:")
    assert [e.action for e in events] == ["token.create", "token.revoke", "token.rejected"]
    assert [e.actor for e in events] == ["alice", "alice", "conveyor-server"]
    assert events[-1].details == {"client": "127.0.0.1", "reason": "revoked"}
    assert secret not in repr(events)
    assert secret[4:] not in repr(events)
    assert hash_secret(secret) not in repr(events)
    assert store.verify_audit().ok
