"""Optuna's RDB storage on the workspace's own metadata database.

Optuna keeps its tables (``studies``, ``trials``, ...) and its Alembic version table
(``alembic_version``) beside conveyor's, whose schema version lives in
``conveyor_schema_version``, so the two never disturb each other. On SQLite every write
transaction starts with ``BEGIN IMMEDIATE`` under the workspace's busy timeout: several
processes tuning one study then queue for the write lock instead of failing on a lock
upgrade, which is what makes shared studies work on the embedded default.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.exceptions import ExperimentalWarning
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from conveyor.errors import StoreError

__all__ = ["close_storage", "open_storage", "quiet_optuna"]

# Processes creating Optuna's tables in one fresh database at once race on DDL and on its
# version row; the loser sees an error and simply retries against the finished schema.
_INIT_ATTEMPTS = 8
_INIT_BACKOFF_S = 0.05


def open_storage(engine: Engine, *, busy_timeout_s: float) -> optuna.storages.RDBStorage:
    """Open Optuna's storage on the database ``engine`` points at (its own connections).

    Args:
        engine: The metadata store's engine; only its URL and dialect are used.
        busy_timeout_s: How long a SQLite writer waits for the lock.

    Raises:
        StoreError: Optuna's tables cannot be created or read.
    """
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "sqlite":
        kwargs: dict[str, Any] = {
            "connect_args": {"timeout": busy_timeout_s, "isolation_level": "IMMEDIATE"}
        }
    else:
        kwargs = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    for attempt in range(_INIT_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except DBAPIError as exc:
            if attempt == _INIT_ATTEMPTS - 1:
                shown = engine.url.render_as_string(hide_password=True)
                raise StoreError(
                    f"Cannot set up Optuna's tables in the metadata store {shown!r}: {exc}",
                    hint="Check that the database is reachable and writable.",
                    url=shown,
                ) from exc
            time.sleep(_INIT_BACKOFF_S * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def close_storage(storage: optuna.storages.BaseStorage) -> None:
    """Release the storage's pooled connections (nothing to do for an in-memory one)."""
    if not isinstance(storage, optuna.storages.RDBStorage):
        return
    storage.scoped_session.remove()
    storage.engine.dispose()


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO logging and its experimental-feature warnings.

    The previous verbosity is restored on exit. conveyor reports trials as runs instead.
    """
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(previous)
