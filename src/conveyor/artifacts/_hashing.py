"""Hashing files of any size in bounded memory.

:func:`conveyor.core.hash_file` maps a whole file at once, so hashing a 10 GB file makes
10 GB of its pages resident in the process. Here a large file is mapped one window at a
time (each window hashed on all cores, BLAKE3's tree mode, then unmapped), so the
process's resident size stays near one window whatever the file's size.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from blake3 import blake3

from conveyor.core import hash_file

#: Bytes mapped at once: large enough for every core to hash its share of a window,
#: small enough that the resident size stays bounded.
WINDOW = 64 * 1024 * 1024
#: Files up to this size are read in one call and hashed on one core.
_READ_WHOLE = 1024 * 1024
# mmap.MAP_POPULATE (Linux) reads a window's pages in one call instead of one fault each.
_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0) if os.name == "posix" else 0


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
    with Path(path).open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= _READ_WHOLE:
            # Small files (most of a folder's): read from the handle already open rather
            # than open, stat and read the file again.
            return blake3(handle.read()).hexdigest()
        if size <= WINDOW:
            return hash_file(path)
        hasher = blake3(max_threads=blake3.AUTO)
        offset = 0
        while offset < size:
            length = min(WINDOW, size - offset)
            if os.name == "posix":
                window = mmap.mmap(
                    handle.fileno(), length, flags=_FLAGS, prot=mmap.PROT_READ, offset=offset
                )
            else:  # pragma: no cover - Windows
                window = mmap.mmap(handle.fileno(), length, access=mmap.ACCESS_READ, offset=offset)
            with window:
                hasher.update(window)
            offset += length
        # A file that grew meanwhile hashes as its first ``size`` bytes: the caller
        # compares the stored size and hash, and a file changed while stored is refused.
        return hasher.hexdigest()
