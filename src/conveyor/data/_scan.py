"""Listing and hashing the files a dataset is made of.

A folder is walked without following links out of it: a symlink whose target resolves
inside the folder is read like the file (or folder) it points to, one that leaves the
folder or dangles is skipped and counted. ``.conveyor`` and ``.git`` folders are never
part of a dataset. Paths in manifests are relative POSIX paths, sorted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from conveyor.artifacts import hash_file_bounded
from conveyor.core import ProgressCallback
from conveyor.data._state import StateCache, facts_of, matches
from conveyor.errors import DataSourceError

SKIPPED_DIRS = frozenset({".conveyor", ".git"})


@dataclass
class AddStats:
    """What one :meth:`DatasetRegistry.add` did (see :attr:`DatasetVersion.stats`).

    Attributes:
        files: Files making up the version.
        hashed_files: Files whose bytes were read and hashed.
        cached_files: Files whose hash came from the state cache (not read).
        skipped_links: Symlinks skipped because they dangle or lead outside the folder.
        uploaded_objects: Objects written to the artifact store.
        uploaded_bytes: Bytes of those objects.
        link: How files were asked to enter the store (``data.link``: ``"reflink"``,
            ``"copy"`` or ``"hardlink"``).
        copied_objects: Uploaded objects the store copied (a fallback with ``hardlink``:
            another file system, an encrypted or remote store, a link, another's file).
        reflinked_objects: Uploaded objects cloned copy-on-write (no byte copied).
        hardlinked_objects: Uploaded objects that are read-only hard links to their
            workspace file (no byte copied or written).
    """

    files: int = 0
    hashed_files: int = 0
    cached_files: int = 0
    skipped_links: int = 0
    uploaded_objects: int = 0
    uploaded_bytes: int = 0
    link: str = "reflink"
    copied_objects: int = 0
    reflinked_objects: int = 0
    hardlinked_objects: int = 0

    def count_stored(self, stored_by: str | None) -> None:
        """Count one uploaded object by how it entered the store (``None``: copied)."""
        if stored_by == "hardlinked":
            self.hardlinked_objects += 1
        elif stored_by == "reflinked":
            self.reflinked_objects += 1
        else:
            self.copied_objects += 1


@dataclass(frozen=True)
class SourceFile:
    """One file of a dataset version: where it is now and what it holds.

    ``facts`` are ``(size, mtime_ns, ctime_ns, inode)`` of the file when ``hash`` was
    computed (or found in the hash cache), when known.
    """

    relpath: str
    path: str | Path
    size: int
    hash: str
    facts: tuple[int, int, int, int] | None = None


#: ``(relpath, path, stat)`` of one file to version.
Listed = tuple[str, str | Path, os.stat_result]


@dataclass
class _Listing:
    files: list[Listed] = field(default_factory=list)
    skipped_links: int = 0


def _unreadable(path: str | Path, exc: OSError) -> DataSourceError:
    return DataSourceError(
        f"Cannot read {path}: {exc.strerror or exc}.",
        hint="Grant read permission (chmod u+r, and u+x on folders) or remove it from the "
        "folder, then add again.",
        path=str(path),
    )


def list_folder(folder: Path) -> tuple[list[Listed], int]:
    """Every regular file under ``folder`` as ``(relpath, path, stat)``, sorted by relpath.

    Returns:
        The files and the number of symlinks skipped.

    Raises:
        DataSourceError: A sub-folder cannot be listed.
    """
    real_root = folder.resolve()
    listing = _Listing()
    seen_dirs = {real_root}
    # Paths stay strings: a Path per file costs more than the stat of it.
    stack: list[tuple[str, str]] = [(str(folder), "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            raise _unreadable(current, exc) from exc
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                target = Path(entry.path).resolve()
                if not target.is_relative_to(real_root) or not target.exists():
                    listing.skipped_links += 1
                    continue
            if entry.is_dir(follow_symlinks=True):
                if entry.name in SKIPPED_DIRS:
                    continue
                real = Path(entry.path).resolve()
                if real in seen_dirs:  # a link back up the tree: do not loop
                    listing.skipped_links += 1
                    continue
                seen_dirs.add(real)
                stack.append((entry.path, rel + "/"))
            elif entry.is_file(follow_symlinks=True):
                try:
                    listing.files.append((rel, entry.path, entry.stat(follow_symlinks=True)))
                except OSError as exc:
                    raise _unreadable(entry.path, exc) from exc
    listing.files.sort(key=lambda item: item[0])
    return listing.files, listing.skipped_links


#: Threads hashing small files: opening and reading them waits on the kernel, which
#: threads overlap (BLAKE3 and file reads release the GIL).
HASH_THREADS = min(8, (os.cpu_count() or 1) * 2)
#: Files handed to a thread at once: one task per file would spend more on the pool's
#: bookkeeping (a future, a lock, a wake-up each) than on a small file itself.
TASK_FILES = 32

_In = TypeVar("_In")
_Out = TypeVar("_Out")


def map_in_chunks(
    pool: ThreadPoolExecutor, fn: Callable[[_In], _Out], items: Sequence[_In]
) -> Iterator[_Out]:
    """``pool.map(fn, items)`` with :data:`TASK_FILES` items per task, results in order.

    An exception raised by ``fn`` is raised when its result is reached.
    """

    def run(part: Sequence[_In]) -> list[_Out]:
        return [fn(item) for item in part]

    parts = [items[i : i + TASK_FILES] for i in range(0, len(items), TASK_FILES)]
    for results in pool.map(run, parts):
        yield from results


def _hash_one(path: str | Path) -> str:
    try:
        return hash_file_bounded(path)
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def hash_files(
    files: list[Listed],
    cache: StateCache,
    stats: AddStats,
    progress: ProgressCallback | None = None,
) -> list[SourceFile]:
    """Hash ``files``, reusing cached hashes of files whose stat facts are unchanged.

    Cached hashes are read in batches; the other files are hashed in parallel threads
    and their hashes recorded in one transaction.

    Raises:
        DataSourceError: A file cannot be read.
    """
    total = len(files)
    keys = [os.path.abspath(path) for _rel, path, _stat in files]
    cached = cache.lookup_many(keys)
    digests: list[str | None] = []
    todo: list[int] = []
    for index, ((_rel, _path, stat), key) in enumerate(zip(files, keys, strict=True)):
        found = cached.get(key)
        if found is not None and matches(found[0], stat):
            digests.append(found[1])
        else:
            digests.append(None)
            todo.append(index)
    stats.cached_files += total - len(todo)
    done = total - len(todo)
    if progress is not None and done:
        progress("Hashing files", done, total)
    if len(todo) > 1:
        with ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="conveyor-hash") as pool:
            hashed = map_in_chunks(pool, _hash_one, [files[i][1] for i in todo])
            for index, digest in zip(todo, hashed, strict=True):
                digests[index] = digest
                done += 1
                if progress is not None:
                    progress("Hashing files", done, total)
    elif todo:
        digests[todo[0]] = _hash_one(files[todo[0]][1])
        if progress is not None:
            progress("Hashing files", total, total)
    stats.hashed_files += len(todo)
    cache.record([(keys[i], files[i][2], digests[i] or "") for i in todo])
    out = [
        SourceFile(rel, path, stat.st_size, digest or "", facts_of(stat))
        for (rel, path, stat), digest in zip(files, digests, strict=True)
    ]
    stats.files = len(out)
    return out
