"""Failures a user can act on say what happened: a malformed audit row is named, a full
disk and a read-only database have their own errors, a lost PostgreSQL connection is
retried once, and secrets never enter the hash-chained audit log."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text

from conveyor.core import Actor
from conveyor.errors import (
    InvalidVersionError,
    StoreDisconnectedError,
    StoreFullError,
    StoreReadOnlyError,
)
from conveyor.store import MetadataStore, WriteTx, open_store

ACTOR = Actor("tester")


def _write(store: MetadataStore, n: int = 3) -> None:
    for i in range(n):
        with store.write(ACTOR, "test.event", f"thing:{i}", {"i": i}):
            pass


def _sqlite_store(tmp_path: Path) -> tuple[MetadataStore, Path]:
    path = tmp_path / "meta" / "conveyor.db"
    return open_store(f"sqlite:///{path}"), path


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("at", "not a timestamp", r"malformed row: 'at' is not a timestamp"),
        ("details", "{not json", r"malformed row: 'details' is not JSON"),
        ("details", "[1, 2]", r"malformed row: 'details' is not an object"),
    ],
)
def test_a_malformed_audit_row_is_named_instead_of_crashing_verify(
    tmp_path: Path, column: str, value: Any, reason: str
) -> None:
    store, path = _sqlite_store(tmp_path)
    try:
        _write(store)
        before = store.audit_log()
        victim = before[-2].seq
        with sqlite3.connect(path) as conn:
            conn.execute(f"UPDATE audit_events SET {column} = ? WHERE seq = ?", (value, victim))
        result = store.verify_audit()
    finally:
        store.close()
    assert not result.ok
    assert result.first_broken_seq == victim
    assert result.reason is not None
    assert re.search(reason, result.reason)


def test_an_untouched_chain_still_verifies(tmp_path: Path) -> None:
    store, _ = _sqlite_store(tmp_path)
    try:
        _write(store, 5)
        result = store.verify_audit()
    finally:
        store.close()
    assert result.ok
    assert result.count == 6  # the migration event and five writes


def test_a_full_disk_is_a_store_full_error(tmp_path: Path) -> None:
    store, _ = _sqlite_store(tmp_path)
    try:
        store.engine.dispose()

        @event.listens_for(store.engine, "connect")
        def _tiny(dbapi_connection: Any, _record: Any) -> None:
            # SQLite reports SQLITE_FULL exactly as on a full disk once the cap is reached.
            cursor = dbapi_connection.cursor()
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.close()

        with (
            pytest.raises(StoreFullError, match="disk is full") as info,
            store.write(ACTOR, "test.big", "thing:big", {"blob": "x" * 200_000}),
        ):
            pass
        assert info.value.hint is not None
        assert "Free disk space" in info.value.hint
        assert isinstance(info.value, OSError)
    finally:
        store.close()


def test_a_read_only_database_is_a_store_read_only_error(tmp_path: Path) -> None:
    store, _ = _sqlite_store(tmp_path)
    try:
        store.engine.dispose()

        @event.listens_for(store.engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

        with (
            pytest.raises(StoreReadOnlyError, match="read-only") as info,
            store.write(ACTOR, "test.event", "thing:x"),
        ):
            pass
        assert info.value.hint is not None
        assert "permissions" in info.value.hint
    finally:
        store.close()


def test_secrets_in_audit_details_and_targets_are_stored_redacted(tmp_path: Path) -> None:
    store, path = _sqlite_store(tmp_path)
    details = {
        "url": "https://bob:pw-111@hooks.example/x?token=tok-222&team=ml",
        "nested": {"password": "pw-333", "items": ["postgresql://u:pw-444@db/x"]},
    }
    try:
        with store.write(ACTOR, "notify.failed", "webhook:https://u:pw-555@h/x", details):
            pass
        assert store.verify_audit().ok  # the hash covers what was stored
    finally:
        store.close()
    raw = path.read_bytes() + b"".join(
        p.read_bytes() for p in path.parent.glob("conveyor.db-*") if p.is_file()
    )
    for secret in (b"pw-111", b"tok-222", b"pw-333", b"pw-444", b"pw-555"):
        assert secret not in raw
    assert b"hooks.example/x?token=***&team=ml" in raw


@pytest.mark.services
def test_a_postgres_disconnect_mid_transaction_is_retried_once(pg_url: str) -> None:
    store = open_store(pg_url)
    attempts: list[int] = []
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")

    def body(tx: WriteTx) -> str:
        pid = tx.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        attempts.append(pid)
        if len(attempts) == 1:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        tx.session.execute(text("SELECT 1"))
        return "done"

    try:
        assert store.transact(ACTOR, "test.retry", "thing:retry", body) == "done"
        assert len(attempts) == 2
        assert [e.target for e in store.audit_log(action="test.retry")] == ["thing:retry"]
        assert store.verify_audit().ok
    finally:
        store.close()


@pytest.mark.services
def test_a_postgres_disconnect_in_a_plain_write_says_what_happened(pg_url: str) -> None:
    store = open_store(pg_url)
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")

    def lose_the_connection() -> None:
        with store.write(ACTOR, "test.lost", "thing:lost") as tx:
            pid = tx.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            tx.session.execute(text("SELECT 1"))

    try:
        with pytest.raises(StoreDisconnectedError, match="closed the connection before") as info:
            lose_the_connection()
        assert info.value.fields["retryable"] is True
        assert store.audit_log(action="test.lost") == []
    finally:
        store.close()


def test_a_number_too_large_for_the_database_is_a_clear_error(tmp_path: Path) -> None:
    store, _ = _sqlite_store(tmp_path)
    huge = 12345678901234567890  # 20 digits: past a 64-bit integer column
    try:
        with pytest.raises(InvalidVersionError, match="too large") as info, store.read() as session:
            session.execute(text("SELECT :v"), {"v": huge})
        assert info.value.hint is not None
        with (
            pytest.raises(InvalidVersionError, match="too large"),
            store.write(ACTOR, "test.big", "thing:big") as tx,
        ):
            tx.session.execute(text("SELECT :v"), {"v": huge})
        assert store.audit_log(action="test.big") == []
    finally:
        store.close()


def test_a_database_path_that_cannot_be_opened_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "is-a-folder.db"
    folder.mkdir()
    with pytest.raises(StoreReadOnlyError, match="cannot be opened for writing") as info:
        open_store(f"sqlite:///{folder}")
    assert info.value.hint is not None
    assert "writable" in info.value.hint
