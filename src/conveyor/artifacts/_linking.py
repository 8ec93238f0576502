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

The store's ``put_file`` decides which way a file goes; the ways themselves (link, copy
then name, copy under a known name) are here, as functions of the store, with the lease
of an object (``protect``) and the way back out to a file (``get_file``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from conveyor.artifacts._crypto import ESCAPE, needs_escape
from conveyor.artifacts._hashing import hash_file_bounded, read_small
from conveyor.artifacts._objects import ObjectInfo, changed_while_stored, corrupt
from conveyor.artifacts._writers import (
    TEMP_SUFFIX,
    LocalWriter,
    copy_and_hash,
    fsync_dir,
    fsync_path,
    stream_into,
)
from conveyor.core import ProgressCallback, hash_bytes
from conveyor.errors import ConfigError

if TYPE_CHECKING:  # _store imports this module
    from conveyor.artifacts._crypto import Encryptor
    from conveyor.artifacts._store import ArtifactStore
    from conveyor.artifacts._writers import ObjectWriter

#: Files up to this size are read whole and hashed in memory, linked or not.
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


# -- storing a file --------------------------------------------------------------------

_OPEN_SOURCE = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def read_if_small(path: Path) -> bytes | None:
    """The content of ``path`` if it holds at most :data:`SMALL_FILE` bytes, else ``None``."""
    fd = os.open(path, _OPEN_SOURCE)
    try:
        size = os.fstat(fd).st_size
        return read_small(fd, size) if size <= SMALL_FILE else None
    finally:
        os.close(fd)


def put_small(
    store: ArtifactStore,
    source: Path,
    data: bytes,
    known_hash: str | None,
    *,
    label: str,
    report: ProgressCallback,
) -> ObjectInfo:
    """Store the whole content ``data`` of a small file (see :func:`read_if_small`).

    One read, hashed in memory, one write: a folder of small files costs two file opens
    per file instead of six (opens dominate on small files). ``known_hash``, if given,
    was found missing already and must be the content's hash.
    """
    total = len(data)
    actual = hash_bytes(data)
    if known_hash is not None and actual != known_hash:
        raise changed_while_stored(store.url, source, known_hash, actual)
    # The caller found a known hash missing: do not look it up twice.
    existing = None if actual == known_hash else store._existing(actual)
    info = existing or store._write_data(actual, data)
    report(label, len(data), total)
    return info


def put_copied(
    store: ArtifactStore,
    source: Path,
    *,
    label: str,
    total: int,
    report: ProgressCallback,
    reflink: bool,
) -> ObjectInfo:
    """Copy first, then name the object by the hash of the copy (a local, unencrypted
    store).

    The source is read once (a reflink reads nothing; else the kernel copies it) and
    the temporary copy is hashed: the bytes hashed are the bytes published, and no
    separate pass hashes the source first. Content already stored is dropped.
    """
    store._refuse_links(store._tmp, "")
    writer = LocalWriter(
        Path(store._tmp) / "pending", Path(store._tmp), durable=store._deferred == 0
    )
    report(label, 0, total)
    try:
        digest, size, cloned = _fill(
            writer, source, None, reflink=reflink, label=label, total=total, report=report
        )
        existing = store._existing(digest)
        if existing is not None:
            writer.discard()
            report(label, total, total)
            return existing
        writer.final = Path(store._path(digest))
        store._refuse_links(str(writer.final), digest)
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    report(label, size, total)
    return store._written_info(digest, size, "reflinked" if cloned else "copied")


def put_known(
    store: ArtifactStore,
    digest: str,
    source: Path,
    *,
    label: str,
    total: int,
    report: ProgressCallback,
    reflink: bool,
) -> ObjectInfo:
    """Write ``source`` as object ``digest`` (not stored yet): on a local, unencrypted
    store a reflink or kernel copy hashed on the way, else a stream (encrypted if the
    store encrypts). The bytes written must hash to ``digest``."""
    writer = store._writer(digest)
    report(label, 0, total)
    try:
        written, size, cloned = _fill(
            writer,
            source,
            store._encryptor(),
            reflink=reflink,
            label=label,
            total=total,
            report=report,
        )
        if written != digest:
            raise changed_while_stored(store.url, source, digest, written)
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    report(label, size, total)
    return store._written_info(digest, size, "reflinked" if cloned else "copied")


def _fill(
    writer: ObjectWriter,
    source: Path,
    encryptor: Encryptor | None,
    *,
    reflink: bool,
    label: str,
    total: int,
    report: ProgressCallback,
) -> tuple[str, int, bool]:
    """Write ``source`` into ``writer``; ``(hash of what was written, size, cloned)``.

    A local writer with nothing to encrypt gets a reflink where the file system allows,
    else a kernel copy, hashed on the way; anything else is streamed (and encrypted).
    """
    if encryptor is None and isinstance(writer, LocalWriter):
        copied = copy_and_hash(writer, source, reflink=reflink)
        if copied is not None:
            return copied
    digest, size = stream_into(writer, source, encryptor, label=label, total=total, report=report)
    return digest, size, False


def put_hardlink(
    store: ArtifactStore,
    source: Path,
    known_hash: str | None,
    known_stat: tuple[int, int, int, int] | None,
    *,
    label: str,
    report: ProgressCallback,
) -> ObjectInfo | None:
    """Publish a read-only hard link to ``source`` as its object; ``None`` when it
    cannot be linked safely (see :func:`hardlink_into`), leaving the caller to copy.

    The linked file is hashed after it was made read-only, so the object published
    holds the bytes its name says (a later change is caught by every read); a large
    file whose ``known_stat`` still holds is not hashed twice.
    """
    store._refuse_links(store._tmp, "")
    temp = Path(store._tmp) / f"{uuid.uuid4().hex}{TEMP_SUFFIX}"
    if store._checked is None or store._tmp not in store._checked:
        temp.parent.mkdir(parents=True, exist_ok=True)
    linked = hardlink_into(source, temp)
    if linked is None:
        return None
    before = linked.before
    published = False
    try:
        report(label, 0, before.st_size)
        if linked.content is not None:
            digest = hash_bytes(linked.content)
        elif known_hash is not None and linked.unchanged_since(known_stat):
            digest = known_hash
        else:
            digest = hash_file_bounded(temp)
        if known_hash is not None and digest != known_hash:
            raise changed_while_stored(store.url, source, known_hash, digest)
        existing = None if digest == known_hash else store._existing(digest)
        if existing is not None:
            report(label, before.st_size, before.st_size)
            return existing
        final = store._path(digest)
        store._refuse_links(final, digest)
        if store._deferred == 0:
            fsync_path(temp)  # the workspace's bytes, made durable as a copy would be
        try:
            os.replace(temp, final)
        except FileNotFoundError:  # the first object of its folder
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(temp, final)
        published = True
        if store._deferred == 0:
            fsync_dir(Path(final).parent)
    finally:
        if not published:
            restore_source(temp, before)
            temp.unlink(missing_ok=True)
    report(label, before.st_size, before.st_size)
    return store._written_info(digest, before.st_size, "hardlinked")


def renew_lease(store: ArtifactStore, digest: str) -> bool:
    """Set the modification time of the local object ``digest`` to now, the lease a
    concurrent gc reads (decision 0013); return whether the object exists (see
    ``ArtifactStore.protect``)."""
    path = store._path(digest)
    if not store._refuse_links(path, digest):
        return False  # the lstat of the object itself found nothing
    try:
        os.utime(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except PermissionError:  # another user's object: it exists, but cannot be leased
        return store.exists(digest)
    return True


def get_into(store: ArtifactStore, digest: str, target: Path, report: ProgressCallback) -> None:
    """Write object ``digest`` to ``target`` atomically, after verifying it (see
    ``ArtifactStore.get_file``): an object stored as is on local disk is copied by the
    kernel and the copy hashed, any other is decrypted or unescaped as it streams."""
    label = f"get {target.name}"
    path = store._path(digest)
    store._refuse_links(path, digest)
    plain_local = store._kind == "local" and store._stored_as_is(digest, path)
    writer = LocalWriter(
        target, target.parent, temp_name=f".{target.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
    )
    try:
        if plain_local:
            writer.close_temp()
            shutil.copyfile(path, writer.temp_path)
            if hash_file_bounded(writer.temp_path) != digest:
                raise corrupt(digest, store.url, "its content does not match its hash")
            report(label, writer.temp_path.stat().st_size, 0)
        else:
            with contextlib.closing(store._verified_chunks(digest)) as chunks:
                for chunk in chunks:
                    writer.write(chunk)
                    report(label, writer.size, 0)
        writer.commit()
    except BaseException:
        writer.discard()
        raise
