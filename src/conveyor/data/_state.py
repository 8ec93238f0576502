"""The machine-local hash cache: (path, size, mtime, ctime, inode) -> content hash.

Re-adding an unchanged folder should cost a directory listing, not a rehash of every
byte. Like git's index and DVC's state database, this SQLite file remembers the hash of
each file together with the ``stat`` facts it was computed from; when all of them still
match, the hash is reused. The change time (``ctime``) is among them because no user call
can set it: a program that rewrites a file in place and then restores its size and
modification time (``touch -r``, ``os.utime``) still moves its ``ctime``. What no stat
fact can show is a rewrite of the same size within the clock tick (a few milliseconds)
in which the file was hashed; git re-reads such "racily clean" files, this cache (like
DVC's) trusts them. The cache lives under ``.conveyor/cache`` (never committed) and is
only an optimisation: deleting it is always safe.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

# The table's name carries its layout: a cache written by an older layout (without
# ``ctime_ns``) is left unread and a new table starts empty, so no migration is needed.
_TABLE = "file_hashes_v2"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hash TEXT NOT NULL
)
"""


def facts_of(stat: os.stat_result) -> tuple[int, int, int, int]:
    """``(size, mtime_ns, ctime_ns, inode)``: what the cache compares."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


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
            self._conn.execute("DROP TABLE IF EXISTS file_hashes")  # the layout before v2
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
        """The cached hash of ``path`` if its size, mtime, ctime and inode are unchanged."""
        row = self._conn.execute(
            f"SELECT size, mtime_ns, ctime_ns, inode, hash FROM {_TABLE} WHERE path = ?",
            (path,),
        ).fetchone()
        if row is None or tuple(row[:4]) != facts_of(stat):
            return None
        return str(row[4])

    def lookup_many(self, paths: list[str]) -> dict[str, tuple[tuple[int, int, int, int], str]]:
        """The cached ``(facts, hash)`` of each of ``paths`` that has an entry.

        ``facts`` is ``(size, mtime_ns, ctime_ns, inode)``; compare them with a fresh
        ``stat`` (:func:`matches`) before trusting the hash.
        """
        found: dict[str, tuple[tuple[int, int, int, int], str]] = {}
        # SQLite allows 32,766 parameters per statement by default; stay well below.
        for start in range(0, len(paths), 900):
            chunk = paths[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for path, size, mtime_ns, ctime_ns, inode, digest in self._conn.execute(
                f"SELECT path, size, mtime_ns, ctime_ns, inode, hash FROM {_TABLE} "
                f"WHERE path IN ({marks})",
                chunk,
            ):
                found[path] = ((size, mtime_ns, ctime_ns, inode), digest)
        return found

    def record(self, entries: Iterable[tuple[str, os.stat_result, str]]) -> None:
        """Remember ``(path, stat, hash)`` triples (one transaction), ``stat`` taken
        before the file was hashed."""
        rows = [(p, *facts_of(s), h) for p, s, h in entries]
        if not rows:
            return
        with self._conn:
            self._conn.executemany(
                f"INSERT OR REPLACE INTO {_TABLE} (path, size, mtime_ns, ctime_ns, inode, hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )


def matches(facts: tuple[int, int, int, int], stat: os.stat_result) -> bool:
    """Whether cached ``facts`` still describe the file ``stat`` describes."""
    return facts == facts_of(stat)
