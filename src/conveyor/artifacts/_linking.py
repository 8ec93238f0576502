"""How a file enters a local store: a copy, a copy-on-write reflink, or a hard link.

``data.link`` in ``conveyor.yaml`` chooses (as DVC's ``cache.type`` does):

* ``reflink`` (the default): a copy-on-write clone where the file system allows (Btrfs,
  XFS, ...), else a kernel copy. Safe everywhere: the stored object never shares
  writable bytes with the workspace;
* ``copy``: always a full kernel copy;
* ``hardlink``: the object is a second name of the workspace file (no byte is copied or
  written), which is then made read-only, so an in-place edit fails instead of changing
  the stored version. Only within one file system, never into an encrypted or remote
  store, never for a symbolic link or a file this process may not make read-only: those
  fall back to ``reflink``. A change made anyway (by root, or after ``chmod u+w``) is
  caught when the object is read, since every read re-hashes. The file's modification
  time becomes the time of the add: that is the object's lease, which a concurrent gc
  reads (decision 0013).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from conveyor.artifacts._crypto import ESCAPE, needs_escape
from conveyor.artifacts._hashing import read_small
from conveyor.errors import ConfigError

#: Files up to this size are read whole (and hashed in memory) when linked.
SMALL_FILE = 1024 * 1024

#: How files enter a local store (``data.link``).
LinkMode = Literal["copy", "reflink", "hardlink"]
#: How one object entered the store (``ObjectInfo.stored_by``).
StoredBy = Literal["copied", "reflinked", "hardlinked"]
LINK_MODES: tuple[LinkMode, ...] = ("copy", "reflink", "hardlink")


def check_link_mode(mode: object) -> LinkMode:
    """Return ``mode`` if it is one of :data:`LINK_MODES`.

    Raises:
        ConfigError: naming the value and the modes there are.
    """
    for known in LINK_MODES:
        if mode == known:
            return known
    raise ConfigError(
        f"Unknown data link mode {mode!r}: expected one of {', '.join(LINK_MODES)}.",
        hint="Set data.link in conveyor.yaml (or pass link=) to copy, reflink or hardlink.",
        value=repr(mode),
    )


_OPEN_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def hardlink_into(source: Path, temp: Path) -> Linked | None:
    """Give the regular file ``source`` the second name ``temp``, make it read-only and
    set its times to now (the object's lease).

    Nothing is left behind and ``source`` keeps its mode when this returns ``None``:
    ``source`` is a symbolic link or not a regular file, lies on another file system,
    cannot be linked or made read-only by this process (another user's file), or starts
    with the bytes that mark an encrypted object (such content is stored escaped, so
    it must be copied).

    One descriptor does the checks, the ``fchmod`` and, for a small file, the read of
    its content (taken after it became read-only), so a linked file costs a link, an
    open, a read and a chmod.
    """
    try:
        before = os.lstat(source)
    except OSError:
        return None
    if not stat.S_ISREG(before.st_mode):
        return None
    try:
        # follow_symlinks=False: a source swapped for a link meanwhile is linked as a
        # link, which the checks below refuse (O_NOFOLLOW, then the inode).
        os.link(source, temp, follow_symlinks=False)
    except OSError:  # EXDEV (another file system), EPERM, EMLINK, unsupported
        return None
    try:
        fd = os.open(temp, _OPEN_READ)
        try:
            linked = os.fstat(fd)
            if not stat.S_ISREG(linked.st_mode) or (linked.st_dev, linked.st_ino) != (
                before.st_dev,
                before.st_ino,
            ):
                raise _NotLinkable
            os.fchmod(fd, stat.S_IMODE(linked.st_mode) & ~_WRITE_BITS)
            after = os.fstat(fd)
            # The object's lease (decision 0013): a gc keeps objects written within its
            # grace, and a linked object's time is the file's, perhaps years old.
            os.utime(fd)
            small = linked.st_size <= SMALL_FILE
            data = read_small(fd, linked.st_size) if small else os.read(fd, len(ESCAPE))
        finally:
            os.close(fd)
        if needs_escape(data[: len(ESCAPE)]):
            restore_source(temp, before)
            raise _NotLinkable
    except (OSError, _NotLinkable):
        with contextlib.suppress(OSError):
            temp.unlink()
        return None
    return Linked(before, after, data if small else None)


class _NotLinkable(Exception):
    """The linked name is not the source's regular file, or its content must be copied."""


@dataclass(frozen=True)
class Linked:
    """A file linked by :func:`hardlink_into`.

    Attributes:
        before: The ``lstat`` of the source before it was linked (its mode is the one to
            give back with :func:`restore_source` if the object is not published).
        after: Its ``fstat`` once read-only (before its times were set to now, the
            object's lease): a write before that moved its ``mtime``.
        content: The whole content, read once it was read-only, for a small file
            (``None`` for a large one, which the caller hashes from its path).
    """

    before: os.stat_result
    after: os.stat_result
    content: bytes | None

    def unchanged_since(self, facts: tuple[int, int, int, int] | None) -> bool:
        """Whether the file is as it was when ``facts`` (size, mtime_ns, ctime_ns, inode:
        the hash cache's) were taken, up to the moment it became read-only: the same
        trust the hash cache gives a file whose facts match."""
        if facts is None:
            return False
        size, mtime_ns, _ctime_ns, inode = facts
        before, after = self.before, self.after
        was = (before.st_size, before.st_mtime_ns, before.st_ctime_ns, before.st_ino)
        now = (after.st_size, after.st_mtime_ns, after.st_ino)
        return was == facts and now == (size, mtime_ns, inode)


def restore_source(path: Path, before: os.stat_result) -> None:
    """Give the file ``path`` (still linked to the source) its mode and times from
    ``before``: an object not published after all leaves the source as it was."""
    with contextlib.suppress(OSError):
        os.chmod(path, stat.S_IMODE(before.st_mode))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
