"""Turning a metadata URL into a configured SQLAlchemy engine.

SQLite gets the settings that make it safe for several processes (WAL, a busy timeout,
foreign keys) and SQLAlchemy-controlled transactions, so a write can start with
``BEGIN IMMEDIATE`` and take the database's write lock up front instead of failing halfway.
PostgreSQL always goes through psycopg 3.
"""

from __future__ import annotations

import importlib
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry

from conveyor.core import redact
from conveyor.errors import StoreError

#: Execution option naming how a transaction starts on SQLite ("IMMEDIATE" for writers).
BEGIN_MODE_OPTION = "conveyor_sqlite_begin"

_SUPPORTED = "sqlite:////absolute/path/conveyor.db or postgresql://user@host:5432/dbname"
_WAL_RETRY_S = 0.01
_PG_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}


def mask_url(url: str) -> str:
    """Return ``url`` with any password or credential replaced by ``***`` (also unparsable).

    Uses :func:`conveyor.core.redact`, so query credentials (``?sslpassword=``) are hidden too.

    Example:
        >>> mask_url("postgresql://bob:secret@db/meta")
        'postgresql://bob:***@db/meta'
    """
    return redact(url)


def normalise_url(url: str) -> URL:
    """Parse ``url`` and map every PostgreSQL spelling to the psycopg 3 driver.

    Raises:
        StoreError: the URL does not parse, names an unsupported database or driver, or is
            an in-memory SQLite database (which several processes could never share).
    """
    shown = mask_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"Cannot parse the metadata store URL {shown!r}.",
            hint=f"Use a URL such as {_SUPPORTED}.",
            url=shown,
        ) from exc
    scheme = parsed.drivername
    if scheme in _PG_SCHEMES:
        return parsed.set(drivername="postgresql+psycopg")
    if scheme in {"sqlite", "sqlite+pysqlite"}:
        if parsed.database in (None, "", ":memory:"):
            raise StoreError(
                f"The metadata store URL {shown!r} is an in-memory SQLite database, which "
                "cannot be shared between connections or processes.",
                hint="Give a file path, e.g. sqlite:////abs/path/.conveyor/conveyor.db.",
                url=shown,
            )
        return parsed.set(drivername="sqlite")
    raise StoreError(
        f"Unsupported metadata store URL {shown!r}: conveyor stores metadata in SQLite or "
        "PostgreSQL (driver psycopg 3).",
        hint=f"Use a URL such as {_SUPPORTED}.",
        url=shown,
        scheme=scheme,
    )


def build_engine(url: URL, *, busy_timeout_s: float) -> Engine:
    """Create the engine for a normalised URL (see :func:`normalise_url`)."""
    shown = mask_url(url.render_as_string(hide_password=False))
    if url.get_backend_name() == "postgresql":
        _require_psycopg(shown)
        try:
            return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StoreError(
                f"Cannot configure the metadata store {shown!r}: {exc}",
                hint="Check the URL's host, port, user and database name.",
                url=shown,
            ) from exc
    folder = Path(str(url.database)).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the folder {str(folder)!r} for the metadata store {shown!r}: {exc}",
            hint="Choose a writable location for the SQLite file, or create the folder.",
            url=shown,
            path=str(folder),
        ) from exc
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s})
    _configure_sqlite(engine, busy_timeout_ms=max(int(busy_timeout_s * 1000), 0))
    return engine


def _require_psycopg(shown: str) -> None:
    try:
        importlib.import_module("psycopg")
    except ImportError as exc:
        raise StoreError(
            f"The metadata store {shown!r} is PostgreSQL, but the driver psycopg 3 is not "
            "installed.",
            hint="Install it with: pip install 'conveyor-ml[postgres]'",
            url=shown,
        ) from exc


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # pysqlite's own transaction handling would defer BEGIN and ignore DDL; take it
        # away so the "begin" hook below decides how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            _enable_wal(cursor, timeout_s=busy_timeout_ms / 1000)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(BEGIN_MODE_OPTION) == "IMMEDIATE"
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _enable_wal(cursor: Any, *, timeout_s: float) -> None:
    """Switch the database file to WAL, waiting out other processes doing the same.

    Converting a new file to WAL needs an exclusive lock, and SQLite reports a conflict
    there at once ("database is locked") instead of calling the busy handler, so several
    processes creating one store together must retry here themselves.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_S)
