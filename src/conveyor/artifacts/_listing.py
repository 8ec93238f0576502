"""Listing stored objects and temporary files, whatever the filesystem reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.artifacts._crypto import (
    ESCAPE,
    HEADER_SIZE,
    is_encrypted,
    is_escaped,
    parse_header,
    plaintext_size,
)
from conveyor.artifacts._objects import ObjectInfo
from conveyor.core import is_hash
from conveyor.errors import IntegrityError

# fsspec backends name the modification time differently (local, S3, memory, others).
_MODIFIED_KEYS = ("mtime", "LastModified", "last_modified", "modified", "created")
_LIST_BATCH = 256


@dataclass(frozen=True)
class StoredEntry:
    """One file as listed: where it is, its stored size and modification time."""

    digest: str
    path: str
    stored_size: int
    modified: datetime | None

    def to_info(self, head: bytes) -> ObjectInfo:
        """The object's info, given its first ``HEADER_SIZE`` stored bytes."""
        if is_escaped(head):
            return ObjectInfo(self.digest, self.stored_size - len(ESCAPE), self.modified, False)
        if not is_encrypted(head):
            return ObjectInfo(self.digest, self.stored_size, self.modified, False)
        try:
            header = parse_header(head, digest=self.digest, url=self.path)
        except IntegrityError:  # damaged header: reads will say so; listing stays usable
            return ObjectInfo(self.digest, self.stored_size, self.modified, True)
        size = plaintext_size(self.stored_size, header.chunk_size)
        return ObjectInfo(self.digest, size, self.modified, True)


def modified_of(detail: dict[str, Any]) -> datetime | None:
    """The modification time in an fsspec ``info`` dict, as aware UTC, or ``None``."""
    for key in _MODIFIED_KEYS:
        value = detail.get(key)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
    return None


def scan_objects(fs: Any, objects_root: str) -> list[StoredEntry]:
    """Every file under ``objects_root`` laid out as ``<2 hex>/<62 hex>``, sorted by hash.

    Files that do not fit the layout (left by other tools) are ignored, never touched.
    """
    entries = []
    for path, detail in _find(fs, objects_root).items():
        parts = path.rstrip("/").split("/")
        digest = "".join(parts[-2:])
        if len(parts) < 2 or len(parts[-2]) != 2 or not is_hash(digest):
            continue
        entries.append(StoredEntry(digest, path, int(detail["size"]), modified_of(detail)))
    entries.sort(key=lambda e: e.digest)
    return entries


def scan_temp(fs: Any, tmp_root: str, suffix: str) -> list[StoredEntry]:
    """The temporary files (``*<suffix>``) directly under ``tmp_root``."""
    return [
        StoredEntry("", path, int(detail["size"]), modified_of(detail))
        for path, detail in _find(fs, tmp_root).items()
        if path.endswith(suffix)
    ]


def _find(fs: Any, root: str) -> dict[str, dict[str, Any]]:
    fs.invalidate_cache(root)  # listings may be cached by the backend (s3fs)
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        return {}
    return {p: d for p, d in found.items() if d.get("type", "file") == "file"}


def iter_infos(fs: Any, objects_root: str) -> Iterator[ObjectInfo]:
    """Every complete object under ``objects_root`` as an :class:`ObjectInfo`, by hash."""
    entries = scan_objects(fs, objects_root)
    for start in range(0, len(entries), _LIST_BATCH):
        batch = entries[start : start + _LIST_BATCH]
        # One batched read of all headers (concurrent on S3); empty objects have no
        # header, and S3 refuses range reads of them.
        sized = [e for e in batch if e.stored_size > 0]
        heads = fs.cat_ranges(
            [e.path for e in sized],
            [0] * len(sized),
            [min(HEADER_SIZE, e.stored_size) for e in sized],
            on_error="return",
        )
        found: dict[str, object] = {e.digest: h for e, h in zip(sized, heads, strict=True)}
        for entry in batch:
            head = found.get(entry.digest, b"")
            if isinstance(head, bytes):  # else removed since it was listed
                yield entry.to_info(head)
