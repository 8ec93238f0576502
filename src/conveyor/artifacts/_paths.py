"""Local object paths that stay inside the store: no symbolic link is ever followed.

An object's location is derived from its hash, but the folders on the way
(``objects/``, ``objects/ab/``, ``tmp/``) and the object file itself are on disk, where
anyone with write access can replace one by a link. A link there would make a read
return, or a write land in, a file outside the store, so every local read and write
first checks each component below the store root with ``lstat``.

A batch of writes (:meth:`ArtifactStore.deferred_sync`) passes a set of the folders it
has already found to be real folders, so that each folder is checked once per batch and
each object path costs one ``lstat`` (of the object itself) instead of one per component.
Checking and then using a path is a race either way; the set only widens that window
from one object to one batch, for folders only, never for the object file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from conveyor.errors import IntegrityError


def linked_component(root: str, path: str, checked: set[str] | None = None) -> Path | None:
    """The first component of ``path`` below ``root`` that is a symbolic link, else ``None``.

    Components that do not exist end the walk (nothing below them can be a link). Folders
    in ``checked`` are not checked again; folders found real are added to it.
    """
    found = _walk(root, path, checked)
    return None if found is _MISSING else found


#: What :func:`_walk` returns when a component of the path does not exist.
_MISSING = Path("\0missing")


def _walk(root: str, path: str, checked: set[str] | None) -> Path | None:
    """:func:`linked_component`, but :data:`_MISSING` when a component is missing."""
    base = root.rstrip(os.sep)
    if not path.startswith(base + os.sep) or os.altsep:
        return _linked_component_slow(root, path)
    # Plain string work: this runs for every object read or written (thousands per add).
    current = base
    for part in path[len(base) + 1 :].split(os.sep):
        if not part:
            continue
        current = f"{current}{os.sep}{part}"
        if checked is not None and current in checked:
            continue
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return _MISSING
        if stat.S_ISLNK(mode):
            return Path(current)
        if checked is not None and stat.S_ISDIR(mode):
            checked.add(current)
    return None


def _linked_component_slow(root: str, path: str) -> Path | None:
    current = Path(root)
    relative = Path(path).relative_to(root)
    for part in relative.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            return current
    return None


def refuse_links(
    root: str,
    path: str,
    *,
    url: str,
    digest: str | None = None,
    checked: set[str] | None = None,
) -> bool:
    """Raise :class:`IntegrityError` if a component of ``path`` below ``root`` is a link
    (folders in ``checked`` are trusted, see :func:`linked_component`).

    Returns:
        ``False`` when a component of ``path`` was found missing (so ``path`` does not
        exist), else ``True``.

    Raises:
        IntegrityError: naming the link and where it points.
    """
    link = _walk(root, path, checked)
    if link is None:
        return True
    if link is _MISSING:
        return False
    try:
        target = os.readlink(link)
    except OSError:
        target = "?"
    subject = f"Object {digest}" if digest else f"Path {path!r}"
    raise IntegrityError(
        f"{subject} in {url} goes through the symbolic link {str(link)!r} -> {target!r}; "
        "links inside an artifact store are never followed.",
        hint="Remove the link (the store only holds regular files and folders), then "
        "restore the object from a replica or re-add its source.",
        hash=digest,
        url=url,
        path=str(link),
    )


def open_no_follow(path: str) -> IO[bytes]:
    """Open ``path`` for reading, refusing a symbolic link as its last component.

    Raises:
        FileNotFoundError: no such file.
        OSError: ``ELOOP`` when ``path`` is a link.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    return os.fdopen(fd, "rb")
