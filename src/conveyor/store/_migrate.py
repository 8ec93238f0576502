"""Bringing a database to the newest schema exactly once, however many processes try.

A cheap unlocked read first tells whether anything is to be done. If so, the migration
runs in one transaction that first takes the database-wide writer lock (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock), then re-reads the
revision: every process but the first finds the schema current and does nothing. The
``store.migrate`` audit event is written in that same transaction.

The cheap read is plain SQL against the version table, compared with
:data:`HEAD_REVISION`: opening a current store never imports Alembic. Alembic is loaded
only when a migration has to run (or a revision has to be looked up).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.orm import Session

from conveyor.errors import StoreError
from conveyor.store._audit import append_event
from conveyor.store._engine import BEGIN_MODE_OPTION

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: pg_advisory_xact_lock key serialising schema migrations ("conveyor" in ASCII, truncated).
MIGRATION_LOCK_KEY = 0x636F6E7665796F01
#: pg_advisory_xact_lock key serialising every writer of the audit chain.
AUDIT_LOCK_KEY = 0x636F6E7665796F02

_MIGRATIONS = Path(__file__).with_name("migrations")
#: conveyor's own Alembic version table. Not the default ``alembic_version``: other tools
#: that keep tables in the same database (Optuna's RDB storage, which tuning uses) track
#: their schema in that one.
VERSION_TABLE = "conveyor_schema_version"
#: The newest migration shipped in ``migrations/versions``. A unit test checks it against
#: Alembic's script directory, so a new migration must update it.
HEAD_REVISION = "0017"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the store's migration scripts."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    """The shipped migration scripts, read once per process when a migration runs."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision shipped with this conveyor."""
    return HEAD_REVISION


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, None for an empty database.

    Plain SQL on the version table (what Alembic itself reads), so no Alembic import.

    Raises:
        StoreError: the version table holds several revisions (branched migrations).
    """
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise StoreError(
            f"The metadata store's {VERSION_TABLE} table holds several revisions "
            f"({', '.join(sorted(rows))}); conveyor's migrations are linear.",
            hint="The schema was changed outside conveyor: restore it from a backup or "
            "keep one row, the revision the tables match.",
            revisions=sorted(rows),
        )
    return rows[0] if rows else None


def lock_writers(connection: Connection) -> None:
    """Serialise PostgreSQL writers on the audit chain for the rest of the transaction.

    On SQLite the transaction's ``BEGIN IMMEDIATE`` already holds the write lock.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(select(text(f"pg_advisory_xact_lock({AUDIT_LOCK_KEY})")))


def upgrade_to_head(engine: Engine, *, actor: str, shown_url: str) -> bool:
    """Apply pending migrations; return True if this call ran them.

    Raises:
        StoreError: the database was migrated by a newer conveyor than this one.
    """
    head = head_revision()
    with engine.connect() as probe:
        current = current_revision(probe)
    if current == head:
        return False
    writer = engine.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})
    with writer.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(text(f"pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")))
        lock_writers(connection)
        current = current_revision(connection)
        if current == head:
            return False
        _check_known(current, shown_url)
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        with Session(bind=connection) as session:
            append_event(
                session,
                actor=actor,
                action="store.migrate",
                target="store",
                details={"from": current, "to": head},
            )
    return True


def _check_known(revision: str | None, shown_url: str) -> None:
    if revision is None:
        return
    from alembic.util.exc import CommandError

    try:
        _scripts().get_revision(revision)
    except CommandError as exc:
        raise StoreError(
            f"The metadata store {shown_url!r} is at schema revision {revision!r}, which "
            "this version of conveyor does not know.",
            hint="It was upgraded by a newer conveyor: upgrade conveyor-ml to open it.",
            url=shown_url,
            revision=revision,
        ) from exc
