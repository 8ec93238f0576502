"""Content hashing. BLAKE3 everywhere: hex digests of 64 characters."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from blake3 import blake3

HASH_NAME = "blake3"
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Below this size a multi-threaded, memory-mapped hash costs more than it saves.
_MMAP_THRESHOLD = 8 * 1024 * 1024


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """Return the BLAKE3 hex digest of ``data``.

    Example:
        >>> hash_bytes(b"")[:16]
        'af1349b9f5f9a1a6'
    """
    return blake3(data).hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    """Return the BLAKE3 hex digest of the file at ``path``.

    Large files are memory-mapped and hashed on all cores (BLAKE3's tree mode), which
    runs at memory bandwidth rather than at one core's speed.
    """
    p = Path(path)
    size = p.stat().st_size
    if size >= _MMAP_THRESHOLD:
        return blake3(max_threads=blake3.AUTO).update_mmap(p).hexdigest()
    return blake3(p.read_bytes()).hexdigest()


def hash_json(value: Any) -> str:
    """Hash a JSON-able value canonically (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hash_bytes(text.encode("utf-8"))


def is_hash(value: str) -> bool:
    """True when ``value`` looks like a conveyor content hash (64 lowercase hex digits)."""
    return bool(_HEX64.fullmatch(value))
