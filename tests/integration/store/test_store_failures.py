"""How opening and writing fail: locked SQLite, bad URLs, unreachable servers."""

from __future__ import annotations

import re
import sqlite3
import sys
from pathlib import Path

import pytest

from conveyor.core import Actor
from conveyor.errors import StoreBusyError, StoreError
from conveyor.store import MetadataStore, open_store


def write_once(store: MetadataStore) -> None:
    with store.write(Actor("alice"), "thing.touch", "thing:1"):
        pass


def test_write_while_another_connection_writes_raises_busy_naming_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "meta" / "conveyor.db"
    with open_store(f"sqlite:///{path}", busy_timeout_s=0.05) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreBusyError, match=rf"{re.escape(str(path))}.*locked") as info:
                write_once(store)
            assert info.value.hint is not None
            assert "busy_timeout_s" in info.value.hint
            assert info.value.fields["path"] == str(path)
            other.execute("ROLLBACK")
        finally:
            other.close()
        write_once(store)
        assert [e.action for e in store.audit_log()] == ["store.migrate", "thing.touch"]


def test_reads_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "conveyor.db"
    with open_store(f"sqlite:///{path}", busy_timeout_s=0.05) as store:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            assert len(store.audit_log()) == 1
        finally:
            other.close()


def test_sqlite_is_configured_for_concurrent_processes(tmp_path: Path) -> None:
    with (
        open_store(f"sqlite:///{tmp_path / 'c.db'}", busy_timeout_s=2.5) as store,
        store.engine.connect() as conn,
    ):
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ["journal_mode", "busy_timeout", "foreign_keys", "synchronous"]
        }
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 2500,
        "foreign_keys": 1,
        "synchronous": 1,
    }


def test_sqlite_parent_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "conveyor.db"
    with open_store(f"sqlite:///{path}"):
        assert path.is_file()


def test_unsupported_database_url_names_it_with_password_masked() -> None:
    with pytest.raises(StoreError, match=r"Unsupported .*'mysql://root:\*\*\*@db/meta'") as info:
        open_store("mysql://root:hunter2@db/meta")
    assert "hunter2" not in str(info.value)


def test_unreachable_postgres_names_the_masked_url() -> None:
    url = "postgresql://bob:hunter2@127.0.0.1:1/meta"
    with pytest.raises(
        StoreError, match=r"Cannot connect to the metadata store 'postgresql://bob:\*\*\*@127"
    ) as info:
        open_store(url)
    assert "hunter2" not in str(info.value)
    assert info.value.hint is not None
    assert "running and reachable" in info.value.hint
    assert info.value.fields["url"] == "postgresql://bob:***@127.0.0.1:1/meta"


def test_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes "import psycopg" fail exactly as it does when it is not installed.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match="psycopg 3 is not installed") as info:
        open_store("postgres://bob@127.0.0.1:5432/meta")
    assert info.value.hint == "Install it with: pip install 'conveyor-ml[postgres]'"


def test_store_from_a_newer_conveyor_is_refused(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store, store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE conveyor_schema_version SET version_num = '9999'")
    with pytest.raises(StoreError, match="revision '9999'") as info:
        open_store(sqlite_url)
    assert info.value.hint is not None
    assert "upgrade conveyor-ml" in info.value.hint


def test_sqlite_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=re.escape(f"Cannot create the folder '{blocker}/sub'")):
        open_store(f"sqlite:///{blocker}/sub/conveyor.db")
