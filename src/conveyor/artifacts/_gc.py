"""Garbage collection: remove unreferenced objects and stale temporary files.

gc runs while other processes add versions, and an add may deduplicate onto an old object
that no record references yet. Two rules keep such an object:

* the add renews the object's lease (:meth:`ArtifactStore.protect` sets its modification
  time to now) before it records the reference, and gc removes only objects last written
  or protected before its own start minus the grace period;
* on local disk, gc first moves each candidate aside (an atomic rename into ``tmp/``),
  then reads the live set and the moved file's modification time again: a candidate
  that got referenced or protected meanwhile is moved back. An add that protects an
  object already moved aside finds it missing and writes it again.

A gc killed between the two steps leaves ``*.trash`` files behind; the next gc restores
them (when no object took their place) before it starts.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from conveyor.artifacts._listing import StoredEntry, modified_of, scan_objects, scan_temp
from conveyor.artifacts._objects import GcResult, check_hash
from conveyor.artifacts._writers import TEMP_SUFFIX
from conveyor.core import is_hash

TRASH_SUFFIX = ".trash"
LiveHashes = Callable[[], Iterable[str]]


def live_source(live: set[str] | LiveHashes) -> Callable[[], set[str]]:
    """A function returning the live hashes, each checked to be a hash."""
    source = live if callable(live) else (lambda: live)
    return lambda: {check_hash(h) for h in source()}


class Sweeper:
    """One gc pass over a store's ``objects/`` and ``tmp/`` folders.

    Args:
        fs: The store's fsspec filesystem.
        objects_root: The ``objects`` folder.
        tmp_root: The ``tmp`` folder (temporary writes, trash).
        path_of: Maps a hash to its object path.
        atomic_rename: The filesystem renames atomically and keeps modification times
            (local disk): candidates are moved aside and checked again before removal.
    """

    def __init__(
        self,
        fs: Any,
        *,
        objects_root: str,
        tmp_root: str,
        path_of: Callable[[str], str],
        atomic_rename: bool,
    ) -> None:
        self._fs = fs
        self._objects = objects_root
        self._tmp = tmp_root
        self._path_of = path_of
        self._atomic = atomic_rename

    def run(self, live: set[str] | LiveHashes, *, cutoff: datetime, dry_run: bool) -> GcResult:
        """Remove every object not in ``live()`` last written before ``cutoff``, and every
        temporary file older than ``cutoff``. Objects with an unknown modification time
        are kept; a file that vanishes meanwhile (a concurrent gc) is not an error."""
        live = live_source(live)
        if not dry_run:
            self._recover_trash()
        keep = live()
        listed = scan_objects(self._fs, self._objects)
        candidates = [e for e in listed if _removable(e, keep, cutoff)]
        kept = len(listed) - len(candidates)
        freed = 0
        removed: list[str] = []
        if dry_run:
            removed = [e.digest for e in candidates]
            freed = sum(e.stored_size for e in candidates)
        elif self._atomic:
            removed, freed, restored = self._remove_via_trash(candidates, live, cutoff)
            kept += restored
        else:
            removed, freed, restored = self._remove_rechecked(candidates, live, cutoff)
            kept += restored
        for temp in scan_temp(self._fs, self._tmp, TEMP_SUFFIX):
            if temp.modified is not None and temp.modified <= cutoff:
                if not dry_run:
                    with contextlib.suppress(FileNotFoundError):
                        self._fs.rm_file(temp.path)
                freed += temp.stored_size
        return GcResult(removed=removed, kept=kept, bytes_freed=freed, dry_run=dry_run)

    def _remove_via_trash(
        self, candidates: list[StoredEntry], live: LiveHashes, cutoff: datetime
    ) -> tuple[list[str], int, int]:
        moved: list[tuple[StoredEntry, str]] = []
        for entry in candidates:
            trash = f"{self._tmp}/{entry.digest}.{uuid.uuid4().hex}{TRASH_SUFFIX}"
            os.makedirs(self._tmp, exist_ok=True)
            try:
                os.rename(entry.path, trash)
            except FileNotFoundError:
                continue  # removed by a concurrent gc
            moved.append((entry, trash))
        keep = set(live()) if moved else set()
        removed: list[str] = []
        freed = restored = 0
        for entry, trash in moved:
            modified = modified_of(self._fs.info(trash))
            if entry.digest in keep or modified is None or modified > cutoff:
                self._restore(trash, entry.path)
                restored += 1
                continue
            os.unlink(trash)
            removed.append(entry.digest)
            freed += entry.stored_size
        return removed, freed, restored

    def _remove_rechecked(
        self, candidates: list[StoredEntry], live: LiveHashes, cutoff: datetime
    ) -> tuple[list[str], int, int]:
        keep = set(live()) if candidates else set()
        removed: list[str] = []
        freed = restored = 0
        for entry in candidates:
            try:
                modified = modified_of(self._fs.info(entry.path))
            except FileNotFoundError:
                continue
            if entry.digest in keep or modified is None or modified > cutoff:
                restored += 1
                continue
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm_file(entry.path)
            removed.append(entry.digest)
            freed += entry.stored_size
        return removed, freed, restored

    def _restore(self, trash: str, final: str) -> None:
        """Move a trashed object back, unless an identical object took its place."""
        if os.path.lexists(final):
            os.unlink(trash)
            return
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.rename(trash, final)

    def _recover_trash(self) -> None:
        """Restore what an interrupted gc moved aside (it may have been referenced since)."""
        if not self._atomic:
            return
        for entry in scan_temp(self._fs, self._tmp, TRASH_SUFFIX):
            digest = os.path.basename(entry.path).split(".", 1)[0]
            if not is_hash(digest):
                continue
            with contextlib.suppress(FileNotFoundError):
                self._restore(entry.path, self._path_of(digest))


def _removable(entry: StoredEntry, keep: set[str], cutoff: datetime) -> bool:
    return entry.digest not in keep and entry.modified is not None and entry.modified <= cutoff
