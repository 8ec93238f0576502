"""Listing and hashing the files a dataset is made of.

A folder is walked without following links out of it: a symlink whose target resolves
inside the folder is read like the file (or folder) it points to, one that leaves the
folder or dangles is skipped and counted. ``.conveyor`` and ``.git`` folders are never
part of a dataset. Paths in manifests are relative POSIX paths, sorted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.core import ProgressCallback, hash_file
from conveyor.data._state import StateCache
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
    """

    files: int = 0
    hashed_files: int = 0
    cached_files: int = 0
    skipped_links: int = 0
    uploaded_objects: int = 0
    uploaded_bytes: int = 0


@dataclass(frozen=True)
class SourceFile:
    """One file of a dataset version: where it is now and what it holds."""

    relpath: str
    path: Path
    size: int
    hash: str


@dataclass
class _Listing:
    files: list[tuple[str, Path, os.stat_result]] = field(default_factory=list)
    skipped_links: int = 0


def _unreadable(path: Path, exc: OSError) -> DataSourceError:
    return DataSourceError(
        f"Cannot read {path}: {exc.strerror or exc}.",
        hint="Grant read permission (chmod u+r, and u+x on folders) or remove it from the "
        "folder, then add again.",
        path=str(path),
    )


def list_folder(folder: Path) -> tuple[list[tuple[str, Path, os.stat_result]], int]:
    """Every regular file under ``folder`` as ``(relpath, path, stat)``, sorted by relpath.

    Returns:
        The files and the number of symlinks skipped.

    Raises:
        DataSourceError: A sub-folder cannot be listed.
    """
    real_root = folder.resolve()
    listing = _Listing()
    seen_dirs = {real_root}
    stack: list[tuple[Path, str]] = [(folder, "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            raise _unreadable(current, exc) from exc
        for entry in entries:
            path = Path(entry.path)
            rel = f"{prefix}{entry.name}"
            if entry.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(real_root) or not target.exists():
                    listing.skipped_links += 1
                    continue
            if entry.is_dir(follow_symlinks=True):
                if entry.name in SKIPPED_DIRS:
                    continue
                real = path.resolve()
                if real in seen_dirs:  # a link back up the tree: do not loop
                    listing.skipped_links += 1
                    continue
                seen_dirs.add(real)
                stack.append((path, rel + "/"))
            elif entry.is_file(follow_symlinks=True):
                try:
                    listing.files.append((rel, path, entry.stat(follow_symlinks=True)))
                except OSError as exc:
                    raise _unreadable(path, exc) from exc
    listing.files.sort(key=lambda item: item[0])
    return listing.files, listing.skipped_links


def hash_files(
    files: list[tuple[str, Path, os.stat_result]],
    cache: StateCache,
    stats: AddStats,
    progress: ProgressCallback | None = None,
) -> list[SourceFile]:
    """Hash ``files``, reusing cached hashes of files whose stat facts are unchanged.

    Raises:
        DataSourceError: A file cannot be read.
    """
    total = len(files)
    out: list[SourceFile] = []
    fresh: list[tuple[str, os.stat_result, str]] = []
    for done, (rel, path, stat) in enumerate(files, start=1):
        key = os.path.abspath(path)
        digest = cache.lookup(key, stat)
        if digest is None:
            try:
                digest = hash_file(path)
            except OSError as exc:
                raise _unreadable(path, exc) from exc
            fresh.append((key, stat, digest))
            stats.hashed_files += 1
        else:
            stats.cached_files += 1
        out.append(SourceFile(rel, path, stat.st_size, digest))
        if progress is not None:
            progress("Hashing files", done, total)
    cache.record(fresh)
    stats.files = len(out)
    return out
