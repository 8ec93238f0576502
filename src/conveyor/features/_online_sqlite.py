"""The online store in one local SQLite file, the default for a project.

:class:`SqliteOnlineStore` keeps every view's newest values in one table of a WAL-mode file;
the key and value encoding is :mod:`conveyor.features._online`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from conveyor.features._errors import OnlineStoreUnavailableError
from conveyor.features._online import (
    OnlineRow,
    OnlineStore,
    OnlineValue,
    _check_features,
    _check_view,
    _encode,
    _key_json,
    _values,
)

__all__ = ["SqliteOnlineStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (
    view TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    event_ts INTEGER NOT NULL,
    PRIMARY KEY (view, key)
) WITHOUT ROWID
"""
_UPSERT = """
INSERT INTO online_features (view, key, value, event_ts) VALUES (?, ?, ?, ?)
ON CONFLICT (view, key) DO UPDATE SET value = excluded.value, event_ts = excluded.event_ts
WHERE excluded.event_ts >= online_features.event_ts
"""
# Below SQLite's smallest variable limit (999 before 3.32), one statement per chunk of keys.
_CHUNK = 900


class SqliteOnlineStore(OnlineStore):
    """The online store in one SQLite file (WAL mode), the default for a project.

    Table ``online_features(view, key, value, event_ts)``: ``key`` is the canonical JSON of
    the key tuple, ``value`` the JSON object of the row's features and ``event_ts`` integer
    microseconds since the epoch (UTC). A batch is one ``BEGIN IMMEDIATE`` transaction, so a
    killed process leaves the previous values; a read of many keys is one read transaction.
    Each thread uses its own connection (kept until :meth:`close`); writers of other
    processes queue for up to ``busy_timeout`` seconds.

    Args:
        path: The database file; its folder is created.
        busy_timeout: Seconds to wait for another writer's lock before failing.

    Raises:
        OnlineStoreUnavailableError: The file or its folder cannot be created or opened.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path).absolute()
        self.store_id = f"sqlite:{self.path}"
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        with self._guard("opened"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn().execute(_SCHEMA)

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
            raise OnlineStoreUnavailableError(
                f"The online store {self.path} could not be {doing}: {str(exc).rstrip('.')}.",
                hint="Check the file's disk and permissions, and that no other process holds "
                "a long write lock; features.online_url names the store.",
                path=str(self.path),
            ) from exc

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():  # never reuse one across a fork
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # used by its own thread only; closed by close()
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL keeps every commit atomic in WAL mode; a power cut may drop the last
            # batches, which materialization writes again.
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._lock:
                self._connections.append(conn)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def write_batch(self, view: str, rows: Sequence[OnlineRow]) -> int:
        view = _check_view(view)
        params = [(view, e.key, e.value, e.ts) for e in _encode(view, rows)]
        if not params:
            return 0
        with self._guard("written"):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                applied = self._apply(conn, params)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return applied

    def _apply(self, conn: sqlite3.Connection, params: list[tuple[str, str, str, int]]) -> int:
        """Run the batch's statements inside the open write transaction (tests override this
        to fail or die part-way); returns how many rows changed."""
        before = conn.total_changes
        conn.executemany(_UPSERT, params)
        return conn.total_changes - before

    def read(
        self, view: str, keys: Sequence[tuple[Any, ...]], features: Sequence[str] | None = None
    ) -> list[OnlineValue | None]:
        view = _check_view(view)
        wanted = _check_features(features)
        encoded = [_key_json(view, key) for key in keys]
        unique = list(dict.fromkeys(encoded))
        found: dict[str, tuple[str, int]] = {}
        with self._guard("read"):
            conn = self._conn()
            several = len(unique) > _CHUNK
            if several:  # one snapshot for every chunk
                conn.execute("BEGIN")
            try:
                for lo in range(0, len(unique), _CHUNK):
                    chunk = unique[lo : lo + _CHUNK]
                    sql = (
                        "SELECT key, value, event_ts FROM online_features "
                        f"WHERE view = ? AND key IN ({','.join('?' * len(chunk))})"
                    )
                    for key, value, ts in conn.execute(sql, (view, *chunk)):
                        found[key] = (value, ts)
            finally:
                if several and conn.in_transaction:
                    conn.execute("COMMIT")
        # One json.loads for the whole answer: the stored values are JSON already.
        entries = ",".join(
            f"[{hit[0]},{hit[1]}]" if hit else "null" for hit in map(found.get, encoded)
        )
        return _values(json.loads(f"[{entries}]"), wanted)

    def _iter_keys(self, view: str) -> Iterator[str]:
        with self._guard("read"):
            sql = "SELECT key FROM online_features WHERE view = ?"
            for (key,) in self._conn().execute(sql, (view,)):
                yield key

    def count(self, view: str) -> int:
        view = _check_view(view)
        with self._guard("read"):
            sql = "SELECT COUNT(*) FROM online_features WHERE view = ?"
            (n,) = self._conn().execute(sql, (view,)).fetchone()
        return int(n)

    def delete_view(self, view: str) -> None:
        view = _check_view(view)
        with self._guard("written"):
            self._conn().execute("DELETE FROM online_features WHERE view = ?", (view,))

    def ping(self) -> None:
        with self._guard("read"):
            self._conn().execute("SELECT 1 FROM online_features LIMIT 1").fetchall()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
