"""Database driver errors a user can act on, mapped to conveyor's store errors."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from conveyor.errors import (
    InvalidVersionError,
    StoreBusyError,
    StoreDisconnectedError,
    StoreFullError,
    StoreReadOnlyError,
)


def translate_db_error(exc: DBAPIError, url: str, dialect: str, *, committing: bool) -> Exception:
    """Map a driver error to :class:`StoreBusyError`, :class:`StoreDisconnectedError`,
    :class:`StoreFullError` or :class:`StoreReadOnlyError`; anything else is returned as is.
    """
    message = first_line(exc.orig).lower()
    where = f"The metadata database {url!r}"
    if dialect == "sqlite" and ("database is locked" in message or "database is busy" in message):
        database = url.removeprefix("sqlite:///")
        return StoreBusyError(
            f"The metadata database {database} stayed locked past the busy timeout.",
            hint="Another conveyor process is writing to it: retry, or raise "
            "busy_timeout_s (store.busy_timeout_s in conveyor.yaml).",
            url=url,
            path=database,
        )
    if "database or disk is full" in message or "no space left" in message:
        return StoreFullError(
            f"{where} cannot be written: the disk is full ({first_line(exc.orig)}).",
            hint="Free disk space where the database lives (or run `conveyor gc`), then "
            "retry; nothing of the failed command was recorded.",
            url=url,
        )
    if dialect == "sqlite" and "unable to open database file" in message:
        return StoreReadOnlyError(
            f"{where} cannot be opened for writing ({first_line(exc.orig)}).",
            hint="SQLite needs to write the file and its -wal and -shm companions: check that "
            "the folder exists, is writable by this user and is not on a read-only mount.",
            url=url,
        )
    if "readonly database" in message or "read-only" in message or "read only" in message:
        return StoreReadOnlyError(
            f"{where} is read-only: {first_line(exc.orig)}.",
            hint="Check the permissions of the database file and its folder (SQLite also "
            "writes -wal and -shm files next to it), or mount the file system read-write.",
            url=url,
        )
    if exc.connection_invalidated or _is_disconnect(message):
        state = (
            "while committing: the change may or may not have been saved"
            if committing
            else "before anything was committed"
        )
        return StoreDisconnectedError(
            f"{where} closed the connection {state} ({first_line(exc.orig)}).",
            hint="Check that the database server is up and reachable, then retry the "
            "command" + ("; inspect `conveyor audit log` first." if committing else "."),
            url=url,
            retryable=not committing,
        )
    return exc


def too_large_error(exc: OverflowError) -> InvalidVersionError:
    # A number reached the database unchecked (e.g. a 20-digit version): say so plainly.
    return InvalidVersionError(
        f"A number is too large for the metadata database ({exc}).",
        hint="Versions and ids are whole numbers up to 9223372036854775807; check the "
        "NAME@VERSION you passed.",
    )


_DISCONNECT_MARKERS = (
    "server closed the connection",
    "terminating connection",
    "connection already closed",
    "connection is closed",
    "consuming input failed",
    "connection refused",
    "could not connect",
    "connection reset",
    "broken pipe",
    "ssl syscall error",
    "the connection is lost",
    "server has gone away",
)


def _is_disconnect(message: str) -> bool:
    return any(marker in message for marker in _DISCONNECT_MARKERS)


def first_line(value: object) -> str:
    return str(value).strip().splitlines()[0] if str(value).strip() else type(value).__name__
