"""The machine-local hash cache: (path, size, mtime, inode) -> content hash.

Re-adding an unchanged folder should cost a directory listing, not a rehash of every
byte. Like DVC's state database, this SQLite file remembers the hash of each file together
with the ``stat`` facts it was computed from; when all of them still match, the hash is
reused. It lives under ``.conveyor/cache`` (never committed) and is only an optimisation:
deleting it is always safe.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash TEXT NOT NULL
)
"""


class StateCache:
    """A small SQLite table of known file hashes, keyed by absolute path.

    Not thread-safe: use one instance per thread. Several processes may share the file;
    SQLite serialises their writes.
    """

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, timeout=timeout_s)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(_SCHEMA)
            self._conn.commit()
        except BaseException:
            self._conn.close()
            raise

    def __enter__(self) -> StateCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def lookup(self, path: str, stat: os.stat_result) -> str | None:
        """The cached hash of ``path`` if its size, mtime and inode are unchanged."""
        row = self._conn.execute(
            "SELECT size, mtime_ns, inode, hash FROM file_hashes WHERE path = ?", (path,)
        ).fetchone()
        if row is None:
            return None
        size, mtime_ns, inode, digest = row
        if (size, mtime_ns, inode) != (stat.st_size, stat.st_mtime_ns, stat.st_ino):
            return None
        return str(digest)

    def record(self, entries: Iterable[tuple[str, os.stat_result, str]]) -> None:
        """Remember ``(path, stat, hash)`` triples (one transaction)."""
        rows = [(p, s.st_size, s.st_mtime_ns, s.st_ino, h) for p, s, h in entries]
        if not rows:
            return
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, inode, hash) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
