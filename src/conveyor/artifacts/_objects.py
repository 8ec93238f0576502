"""Value objects of the artifact store and the one gate every hash passes before use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from conveyor.core import is_hash
from conveyor.errors import ArtifactNotFoundError, IntegrityError, InvalidNameError


@dataclass(frozen=True)
class ObjectInfo:
    """What the store knows about one object.

    Attributes:
        hash: BLAKE3 hex digest of the content (always of the plaintext).
        size: Content size in bytes (the plaintext size, also for encrypted objects).
        modified: When the stored object was last written (or, on local disk, reused), UTC;
            ``None`` if the backend does not say. Not part of equality: two infos of the
            same object are equal whenever they were read.
        encrypted: Whether the object is stored encrypted at rest.
        stored_by: How :meth:`ArtifactStore.put_file` stored it just now: ``"copied"``,
            ``"reflinked"`` or ``"hardlinked"`` (see ``_linking``); ``None`` when the
            object was there already or the info was read. Not part of equality.
    """

    hash: str
    size: int
    modified: datetime | None = field(compare=False)
    encrypted: bool
    stored_by: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class GcResult:
    """Outcome of :meth:`ArtifactStore.gc`.

    Attributes:
        removed: Hashes of the objects removed (or that would be, with ``dry_run``).
        kept: Number of objects left in place.
        bytes_freed: Stored bytes released (including stale temporary files).
        dry_run: ``True`` when nothing was actually deleted.
    """

    removed: list[str] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0
    dry_run: bool = False


def check_hash(value: object) -> str:
    """Return ``value`` if it is a content hash, else raise :class:`InvalidNameError`.

    A hash becomes part of an object's path, so anything but 64 lowercase hex digits
    (``"../etc/passwd"``, upper case, NUL bytes) is refused before it gets near a path.

    Example:
        >>> check_hash("0" * 64) == "0" * 64
        True
    """
    if isinstance(value, str) and is_hash(value):
        return value
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise InvalidNameError(
        f"Invalid object hash {shown}: expected 64 lowercase hex digits (a BLAKE3 digest).",
        hint="Pass the hash exactly as returned by put_bytes/put_file or `conveyor` listings.",
        name=value if isinstance(value, str) else repr(value),
        kind="object hash",
    )


def not_found(digest: str, url: str) -> ArtifactNotFoundError:
    """The error for a hash the store at ``url`` does not hold."""
    return ArtifactNotFoundError(
        f"No object {digest} in the artifact store {url}.",
        hint="Check the hash, or that this workspace points at the right artifact store.",
        hash=digest,
        url=url,
    )


def corrupt(digest: str, url: str, why: str) -> IntegrityError:
    """The error for a stored object that cannot be returned as its content."""
    return IntegrityError(
        f"Object {digest} in {url} is corrupt: {why}.",
        hint="Restore the object from a replica or re-add its source.",
        hash=digest,
        url=url,
    )


def changed_while_stored(url: str, source: Path, expected: str, actual: str) -> IntegrityError:
    """The error for a source file whose bytes changed while they were stored."""
    return IntegrityError(
        f"File {str(source)!r} changed while it was stored in {url} "
        f"(expected hash {expected}, copied content hashes to {actual}).",
        hint="Make sure nothing writes to the file, then add it again.",
        path=str(source),
        hash=expected,
        url=url,
    )
