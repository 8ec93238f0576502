"""Hashing files of any size in bounded memory.

:func:`conveyor.core.hash_file` maps a whole file at once, so hashing a 10 GB file makes
10 GB of its pages resident in the process. Here a large file is mapped one window at a
time (each window hashed on all cores, BLAKE3's tree mode, then unmapped), so the
process's resident size stays near one window whatever the file's size.
"""

from __future__ import annotations

import mmap
import os

from blake3 import blake3

from conveyor.core import hash_file

#: Bytes mapped at once: large enough for every core to hash its share of a window,
#: small enough that the resident size stays bounded.
WINDOW = 64 * 1024 * 1024
#: Files up to this size are read in one call and hashed on one core.
_READ_WHOLE = 1024 * 1024
# mmap.MAP_POPULATE (Linux) reads a window's pages in one call instead of one fault each.
_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0) if os.name == "posix" else 0


_OPEN_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def read_small(fd: int, size: int) -> bytes:
    """The content of the open regular file ``fd`` of ``size`` bytes (as ``fstat`` said).

    Plain ``read`` calls on the descriptor: a buffered file object would add an
    ``ioctl``, two ``lseek`` and two ``fstat`` calls per file, which on a folder of small
    files cost more than the read itself. One extra byte is asked for, so a file of the
    size given takes a single ``read``; a file that changed size meanwhile is read to
    its end.
    """
    data = os.read(fd, size + 1)
    if len(data) == size and size > 0:
        return data
    parts = [data]
    while chunk := os.read(fd, max(size, 65536)):
        parts.append(chunk)
    return b"".join(parts)


def hash_file_bounded(path: str | os.PathLike[str]) -> str:
    """The BLAKE3 hex digest of the file at ``path`` (as :func:`conveyor.core.hash_file`),
    never holding more than :data:`WINDOW` bytes of it in memory.

    Args:
        path: A regular file.

    Returns:
        The 64-character hex digest.

    Raises:
        OSError: The file cannot be opened or read.
    """
    fd = os.open(path, _OPEN_READ)
    try:
        size = os.fstat(fd).st_size
        if size <= _READ_WHOLE:
            # Small files (most of a folder's): open, fstat, read, close and nothing more.
            return blake3(read_small(fd, size)).hexdigest()
        if size <= WINDOW:
            return hash_file(path)
        hasher = blake3(max_threads=blake3.AUTO)
        offset = 0
        while offset < size:
            length = min(WINDOW, size - offset)
            if os.name == "posix":
                window = mmap.mmap(fd, length, flags=_FLAGS, prot=mmap.PROT_READ, offset=offset)
            else:  # pragma: no cover - Windows
                window = mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=offset)
            with window:
                hasher.update(window)
            offset += length
        # A file that grew meanwhile hashes as its first ``size`` bytes: the caller
        # compares the stored size and hash, and a file changed while stored is refused.
        return hasher.hexdigest()
    finally:
        os.close(fd)
