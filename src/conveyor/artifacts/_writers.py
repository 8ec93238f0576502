"""Atomic writes, one strategy per kind of filesystem.

An object appears under its final name complete or not at all:

* local disk: write a temporary file, ``fsync`` it, then ``os.replace`` it into place
  (atomic on POSIX and Windows within one filesystem), then ``fsync`` the folder. Inside
  :meth:`ArtifactStore.deferred_sync` the per-object ``fsync`` calls are replaced by one
  flush of the whole filesystem at the end of the batch: a rename is atomic for other
  processes (and survives ``kill -9``) without them; only durability across a power loss
  needs them, and the batch's caller commits no record before that flush;
* object stores (S3 and other fsspec backends): write straight to the final key, because
  S3 publishes a PUT or a multipart upload only when it completes; on failure the upload
  is aborted, so nothing is published;
* ``memory://``: collect the bytes and store them with one call (its files are visible
  while open, so writing in place would expose partial objects).

After a remote commit the stored size is checked against what was sent.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any, Protocol

from blake3 import blake3

from conveyor.artifacts._crypto import ESCAPE, Encryptor, needs_escape
from conveyor.artifacts._hashing import hash_file_bounded
from conveyor.core import ProgressCallback
from conveyor.errors import IntegrityError

TEMP_SUFFIX = ".part"
_READ_SIZE = 8 * 1024 * 1024


class ObjectWriter(Protocol):
    """Receives the stored bytes of one object, then publishes or drops them."""

    def write(self, data: bytes | memoryview) -> None:
        """Append stored bytes."""

    def commit(self) -> None:
        """Publish the object under its final name."""

    def discard(self) -> None:
        """Drop everything written; the final name is left untouched."""


class LocalWriter:
    """Write ``temp_path`` (``<tmp_dir>/<uuid>.part`` by default), then rename onto ``final``.

    With ``durable=False`` the ``fsync`` calls are skipped (see :func:`sync_filesystem`).
    """

    def __init__(
        self, final: Path, tmp_dir: Path, *, temp_name: str | None = None, durable: bool = True
    ) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self.final = final
        self.temp_path = tmp_dir / (temp_name or f"{uuid.uuid4().hex}{TEMP_SUFFIX}")
        self._file: io.BufferedWriter | None = open(self.temp_path, "xb")  # noqa: SIM115
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        assert self._file is not None, "write after commit or discard"
        self._file.write(data)
        self.size += len(data)

    def close_temp(self) -> None:
        """Close the temporary file so another writer (e.g. ``copyfile``) can fill it."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def restart(self) -> None:
        """Empty the temporary file and reopen it for :meth:`write`."""
        self.close_temp()
        self._file = open(self.temp_path, "wb")  # noqa: SIM115
        self.size = 0

    def commit(self) -> None:
        if self._file is not None:
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
            self.close_temp()
        elif self.durable:
            fsync_path(self.temp_path)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.temp_path, self.final)
        if self.durable:
            fsync_dir(self.final.parent)

    def discard(self) -> None:
        self.close_temp()
        self.temp_path.unlink(missing_ok=True)


#: Flags of a new temporary object file: never an existing file, never through a link.
_CREATE = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def write_local(final: str, tmp_dir: str, parts: tuple[bytes, ...], *, durable: bool) -> float:
    """Publish ``parts`` (held in memory) as the file ``final``, atomically, as
    :class:`LocalWriter` does, with fewer system calls; return its modification time.

    The temporary file is created with ``O_EXCL | O_NOFOLLOW`` in ``tmp_dir`` and renamed
    onto ``final``. Folders are created only when missing (the first write of a batch),
    not checked before each write; the ``fsync`` calls follow ``durable`` as for
    :class:`LocalWriter`. On any failure the temporary file is removed.
    """
    temp = f"{tmp_dir}{os.sep}{uuid.uuid4().hex}{TEMP_SUFFIX}"
    try:
        fd = os.open(temp, _CREATE, 0o666)
    except FileNotFoundError:
        os.makedirs(tmp_dir, exist_ok=True)
        fd = os.open(temp, _CREATE, 0o666)
    try:
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
            modified = os.fstat(fd).st_mtime
        finally:
            os.close(fd)
        try:
            os.replace(temp, final)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if durable:
        fsync_dir(Path(final).parent)
    return modified


class StreamingPutWriter:
    """Stream to the final key of an object store; the upload completes only on commit."""

    def __init__(self, fs: Any, final: str, url: str) -> None:
        self._fs = fs
        self._final = final
        self._url = url
        self._file: Any = fs.open(final, "wb")
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self.size += len(data)

    def commit(self) -> None:
        self._file.close()
        verify_size(self._fs, self._final, self.size, self._url)

    def discard(self) -> None:
        # fsspec's close() would publish what was written; abort the upload instead and
        # mark the file closed so that its finaliser does not flush it either.
        self._file.discard()
        self._file.closed = True


class BufferedPutWriter:
    """Collect the bytes, then store them in one call (for ``memory://``)."""

    def __init__(self, fs: Any, final: str, url: str) -> None:
        self._fs = fs
        self._final = final
        self._url = url
        self._buffer = io.BytesIO()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self._buffer.write(data)
        self.size += len(data)

    def commit(self) -> None:
        self._fs.pipe_file(self._final, self._buffer.getvalue())
        self._buffer = io.BytesIO()
        verify_size(self._fs, self._final, self.size, self._url)

    def discard(self) -> None:
        self._buffer = io.BytesIO()


def verify_size(fs: Any, path: str, expected: int, url: str) -> None:
    """Check a just-written object's stored size; remove it and raise if it differs."""
    actual = int(fs.info(path)["size"])
    if actual != expected:
        fs.rm_file(path)
        raise IntegrityError(
            f"Upload of {path!r} to {url} stored {actual} bytes instead of {expected}; "
            "the object was removed.",
            hint="Retry the operation; if it persists, check the storage backend.",
            path=path,
            url=url,
            expected=expected,
            actual=actual,
        )


def sync_filesystem(path: Path) -> None:
    """Flush every pending write of the filesystem holding ``path`` to stable storage.

    Linux has ``syncfs(2)`` (one call for the whole filesystem), which Python's ``os`` does
    not expose; elsewhere fall back to ``os.sync()``.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    os.sync()


def fsync_path(path: Path) -> None:
    """Flush the file ``path``'s pending writes to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename in folder ``path`` durable (a no-op where folders cannot be opened)."""
    # Makes the rename durable; folders cannot be opened this way on Windows.
    if os.name != "posix":
        return
    fsync_path(path)


#: ioctl(2) request of Linux's FICLONE: share ``src``'s blocks with ``dest`` (copy on write).
_FICLONE = 0x40049409


def clone_file(source: Path, dest: Path) -> bool:
    """Make ``dest`` (an existing, empty file) a copy-on-write clone of ``source``.

    A reflink shares the blocks (Btrfs, XFS, bcachefs, OCFS2; ZFS 2.2+): no byte is
    copied or written. Returns ``False`` where it is not possible (another file system
    than the source's, ext4, tmpfs, not Linux), leaving ``dest`` empty.
    """
    if not sys.platform.startswith("linux"):
        return False
    import fcntl

    with source.open("rb") as src, dest.open("r+b") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        except OSError:
            dst.truncate(0)
            return False
    return True


def copy_and_hash(
    writer: LocalWriter, source: Path, *, reflink: bool = True
) -> tuple[str, int, bool] | None:
    """Clone (reflink, unless ``reflink`` is false) or kernel-side copy of ``source`` into
    the writer's temporary file, then hash the copy, so the bytes published are the bytes
    hashed (faster than hashing while copying in Python). Returns ``(hash, size, cloned)``,
    or ``None`` (with the temporary file emptied for :meth:`LocalWriter.write`) when the
    content must be stored behind the escape marker."""
    writer.close_temp()
    cloned = reflink and clone_file(source, writer.temp_path)
    if not cloned:
        shutil.copyfile(source, writer.temp_path)
    with writer.temp_path.open("rb") as handle:
        if needs_escape(handle.read(len(ESCAPE))):
            writer.restart()
            return None
    return hash_file_bounded(writer.temp_path), writer.temp_path.stat().st_size, cloned


def stream_into(
    writer: ObjectWriter,
    source: Path,
    encryptor: Encryptor | None,
    *,
    label: str,
    total: int,
    report: ProgressCallback,
) -> tuple[str, int]:
    """Copy ``source`` into ``writer`` (sealed by ``encryptor`` if given); return the hash
    and size of the plaintext written, reporting ``(label, bytes_done, total)``."""
    hasher = blake3()
    if encryptor is not None:
        writer.write(encryptor.header)
    size = 0
    buffer = bytearray(_READ_SIZE)
    view = memoryview(buffer)
    with source.open("rb") as handle:
        while count := handle.readinto(buffer):
            chunk = view[:count]
            if encryptor is None and size == 0 and needs_escape(bytes(chunk[: len(ESCAPE)])):
                writer.write(ESCAPE)
            hasher.update(chunk)
            writer.write(chunk if encryptor is None else encryptor.update(chunk))
            size += count
            report(label, size, total)
    if encryptor is not None:
        writer.write(encryptor.finalize())
    return hasher.hexdigest(), size
