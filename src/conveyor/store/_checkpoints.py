"""Signed checkpoints of the audit chain's head, so removing the newest events is detected.

The hash chain proves that no stored event was changed, removed or reordered, but a chain
cut short after its newest events is still a valid chain. A checkpoint is an ed25519
signature over the head (``seq`` and ``hash``) at one time; verification then requires the
event at that ``seq`` to exist with exactly that hash. Checkpoints live in their own table
(they are not audit events, so writing one does not move the head it vouches for) and, for
the case where someone deletes checkpoint rows together with the events, one copy may be kept
outside the database as an *anchor* file (:func:`write_checkpoint_file`).

Keys are ed25519, read from files in the formats ``conveyor models sign`` uses: base64 of the
32 raw bytes, or PEM (PKCS8 private keys, SubjectPublicKeyInfo public keys). A key is named by
its ``key_id``: the first 16 hex characters of the BLAKE3 hash of its 32 raw public bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from conveyor.core import hash_bytes, is_hash, isoformat
from conveyor.errors import ConveyorError
from conveyor.store._audit import GENESIS_HASH, AuditVerification

#: Names the statement format, so a checkpoint signature can never be replayed as another kind.
CHECKPOINT_KIND = "conveyor.audit.checkpoint"
#: Key and checkpoint files larger than this are refused unread.
_MAX_KEY_FILE = 16 * 1024
_MAX_CHECKPOINT_FILE = 64 * 1024
_KEY_HINT = (
    "Use an ed25519 key: base64 of its 32 raw bytes, or an unencrypted PEM file (PKCS8 for "
    "a private key, SubjectPublicKeyInfo for a public key), e.g. made with "
    "`openssl genpkey -algorithm ed25519 -out audit.pem` and "
    "`openssl pkey -in audit.pem -pubout -out audit.pub`."
)


class AuditKeyError(ConveyorError, ValueError):
    """An audit checkpoint key file cannot be used (unreadable, wrong format, not ed25519)."""

    code = "audit_key_invalid"


class CheckpointFileError(ConveyorError, ValueError):
    """An audit checkpoint (anchor) file cannot be read or is not a checkpoint."""

    code = "audit_checkpoint_file_invalid"


@dataclass(frozen=True)
class AuditCheckpoint:
    """A signed statement that the audit chain's head was event ``seq`` with ``hash``.

    Attributes:
        seq: The newest event's ``seq`` when the checkpoint was made (0 for an empty log).
        hash: That event's hash (:data:`~conveyor.store.GENESIS_HASH` for an empty log).
        at: When the checkpoint was made (aware UTC).
        key_id: :func:`key_id` of the public key that verifies ``signature``.
        signature: ed25519 signature of :meth:`statement`, base64.
    """

    seq: int
    hash: str
    at: datetime
    key_id: str
    signature: str

    def statement(self) -> bytes:
        """The canonical bytes the signature covers (see :func:`checkpoint_statement`)."""
        return checkpoint_statement(self.seq, self.hash, self.at)

    def verifies_with(self, key: Ed25519PublicKey) -> bool:
        """True when ``signature`` is ``key``'s valid signature of :meth:`statement`."""
        try:
            raw = base64.b64decode(self.signature.encode("ascii"), validate=True)
            key.verify(raw, self.statement())
        except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the anchor file's content)."""
        return {
            "kind": CHECKPOINT_KIND,
            "seq": self.seq,
            "hash": self.hash,
            "at": isoformat(self.at),
            "key_id": self.key_id,
            "signature": self.signature,
        }


def checkpoint_statement(seq: int, hash: str, at: datetime) -> bytes:
    """The canonical bytes a checkpoint of head ``seq``/``hash`` made at ``at`` signs.

    Example:
        >>> checkpoint_statement(3, "ab" * 32, datetime(2024, 1, 2, tzinfo=UTC))[:31]
        b'{"at":"2024-01-02T00:00:00.000'
    """
    body = {"kind": CHECKPOINT_KIND, "seq": seq, "hash": hash, "at": isoformat(at)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The first 16 hex characters of the BLAKE3 hash of the raw public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hash_bytes(raw)[:16]


def audit_public_key_text(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The public key as base64 of its 32 raw bytes (what :func:`load_audit_public_key` reads)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign_checkpoint(key: Ed25519PrivateKey, seq: int, hash: str, at: datetime) -> AuditCheckpoint:
    """Sign the head ``seq``/``hash`` as of ``at`` with ``key``."""
    signature = base64.b64encode(key.sign(checkpoint_statement(seq, hash, at))).decode("ascii")
    return AuditCheckpoint(seq, hash, at, key_id(key), signature)


def load_audit_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read an ed25519 private key: base64 of the 32 raw bytes, or unencrypted PKCS8 PEM.

    Raises:
        AuditKeyError: the file is missing, too large, or not an ed25519 private key (the
            message never shows the file's content).
    """
    data, shown = _read_key_file(path, "private")
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key: object = serialization.load_pem_private_key(data, password=None)
        except Exception as exc:  # bad PEM, encrypted, or an algorithm the library lacks
            raise _key_error(
                shown, "private", "is not an unencrypted PKCS8 PEM private key"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise _key_error(shown, "private", f"holds a {_kind(key)}, not an ed25519 key")
        return key
    raw = _b64(data.strip(), 32)
    if raw is None:
        raise _key_error(shown, "private", "is neither PEM nor base64 of 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_audit_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """Read an ed25519 public key: base64 of the 32 raw bytes, or PEM (SubjectPublicKeyInfo).

    Raises:
        AuditKeyError: the file is missing, too large, or not an ed25519 public key.
    """
    data, shown = _read_key_file(path, "public")
    if data.lstrip().startswith(b"-----BEGIN"):
        if b"PRIVATE KEY" in data:
            raise _key_error(shown, "public", "holds a private key; pass its public half")
        try:
            key: object = serialization.load_pem_public_key(data)
        except Exception as exc:  # bad PEM, or an algorithm the library lacks
            raise _key_error(shown, "public", "is not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise _key_error(shown, "public", f"holds a {_kind(key)}, not an ed25519 key")
        return key
    raw = _b64(data.strip(), 32)
    if raw is None:
        raise _key_error(shown, "public", "is neither PEM nor base64 of 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _read_key_file(path: str | os.PathLike[str], which: str) -> tuple[bytes, str]:
    shown = str(path)
    try:
        size = Path(path).stat().st_size
        if size > _MAX_KEY_FILE:
            raise _key_error(shown, which, f"is {size} bytes: too large for a key")
        return Path(path).read_bytes(), shown
    except OSError as exc:
        raise AuditKeyError(
            f"Cannot read audit {which} key file {shown!r}: {exc.strerror or exc}.",
            hint=_KEY_HINT,
            path=shown,
        ) from exc


def _key_error(shown: str, which: str, problem: str) -> AuditKeyError:
    return AuditKeyError(f"Audit {which} key file {shown!r} {problem}.", hint=_KEY_HINT, path=shown)


def _kind(key: object) -> str:
    return type(key).__name__.lstrip("_")


def _b64(text: bytes, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def write_checkpoint_file(path: str | os.PathLike[str], checkpoint: AuditCheckpoint) -> None:
    """Write ``checkpoint`` as JSON to ``path`` (atomically: a reader sees old or new).

    Keep the file away from the database (another disk, host or account): it is what
    detects deleting checkpoint rows together with the newest events.

    Raises:
        CheckpointFileError: the file cannot be written.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.tmp")
    text = json.dumps(checkpoint.to_dict(), indent=2, sort_keys=True) + "\n"
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise CheckpointFileError(
            f"Cannot write the audit checkpoint file {str(target)!r}: {exc.strerror or exc}.",
            hint="Check that the folder exists and is writable.",
            path=str(target),
        ) from exc


def read_checkpoint_file(path: str | os.PathLike[str]) -> AuditCheckpoint:
    """Read a checkpoint written by :func:`write_checkpoint_file`.

    Raises:
        CheckpointFileError: the file is missing, too large, not JSON, or not a checkpoint.
    """
    shown = str(path)
    hint = "Pass the file `conveyor audit checkpoint --anchor FILE` wrote, unchanged."
    try:
        if Path(path).stat().st_size > _MAX_CHECKPOINT_FILE:
            raise CheckpointFileError(
                f"Audit checkpoint file {shown!r} is too large to be a checkpoint.",
                hint=hint,
                path=shown,
            )
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckpointFileError(
            f"Cannot read the audit checkpoint file {shown!r}: {exc.strerror or exc}.",
            hint=hint,
            path=shown,
        ) from exc
    except ValueError as exc:  # not UTF-8, or not JSON
        raise CheckpointFileError(
            f"Audit checkpoint file {shown!r} is not JSON ({exc}).", hint=hint, path=shown
        ) from exc
    problem = _checkpoint_problem(data)
    if problem is not None:
        raise CheckpointFileError(
            f"Audit checkpoint file {shown!r} is not a checkpoint: {problem}.",
            hint=hint,
            path=shown,
        )
    return AuditCheckpoint(
        seq=data["seq"],
        hash=data["hash"],
        at=_parse_at(data["at"]) or datetime.min.replace(tzinfo=UTC),
        key_id=data["key_id"],
        signature=data["signature"],
    )


def _checkpoint_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or data.get("kind") != CHECKPOINT_KIND:
        return f"'kind' is not {CHECKPOINT_KIND!r}"
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "'seq' is not a whole number >= 0"
    for name in ("hash", "at", "key_id", "signature"):
        if not isinstance(data.get(name), str):
            return f"{name!r} is not text"
    if not _is_head_hash(data["hash"]):
        return "'hash' is not a 64-character hex digest"
    if _parse_at(data["at"]) is None:
        return "'at' is not an ISO timestamp"
    return None


def _is_head_hash(value: str) -> bool:
    return is_hash(value) or value == GENESIS_HASH


def _parse_at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@dataclass(frozen=True)
class MalformedCheckpoint:
    """A stored checkpoint row that cannot be read as a checkpoint.

    Attributes:
        row_id: The row's ``id``.
        reason: Which field is malformed.
    """

    row_id: int
    reason: str


def checkpoint_from_raw(row: Sequence[Any]) -> AuditCheckpoint | MalformedCheckpoint:
    """Build a checkpoint from a row's raw ``id, seq, hash, at, key_id, signature``."""
    row_id, seq, digest, at, kid, signature = row
    when = _parse_at(at)
    if when is None:
        return MalformedCheckpoint(row_id, "'at' is not a timestamp")
    if not isinstance(seq, int) or seq < 0:
        return MalformedCheckpoint(row_id, "'seq' is not a whole number >= 0")
    for name, value in (("hash", digest), ("key_id", kid), ("signature", signature)):
        if not isinstance(value, str):
            return MalformedCheckpoint(row_id, f"{name!r} is not text")
    return AuditCheckpoint(seq, digest, when, kid, signature)


def check_checkpoints(
    chain: AuditVerification,
    checkpoints: Sequence[AuditCheckpoint | MalformedCheckpoint],
    hashes: Mapping[int, str],
    *,
    public_keys: Sequence[Ed25519PublicKey] | None = None,
    anchor: AuditCheckpoint | None = None,
) -> AuditVerification:
    """Check ``checkpoints`` (and ``anchor``) against an intact chain of ``chain.count`` events.

    Each checkpoint must be signed by one of ``public_keys`` (when given: an empty sequence
    trusts no key) and name an event that exists with exactly its hash. The newest vouched
    ``seq`` is checked first, so removing the newest events is reported as such.

    Args:
        chain: The verified chain (``ok``); ``count`` is its last ``seq``.
        checkpoints: The stored checkpoints.
        hashes: ``seq -> hash`` of the events at the checkpoints' seqs.
        public_keys: Keys a checkpoint may be signed with; None checks no signature.
        anchor: A checkpoint kept outside the database; checked like a stored one.
    """
    if not chain.ok:
        return chain
    keys = None if public_keys is None else {key_id(k): k for k in public_keys}
    for bad in checkpoints:
        if isinstance(bad, MalformedCheckpoint):
            return replace(
                chain, ok=False, reason=f"checkpoint row {bad.row_id} is malformed: {bad.reason}"
            )
    labelled = [("the anchor checkpoint", anchor)] if anchor is not None else []
    labelled += [("checkpoint", cp) for cp in checkpoints if isinstance(cp, AuditCheckpoint)]
    labelled.sort(key=lambda item: item[1].seq, reverse=True)  # stable: anchor first on ties
    head = chain.count
    for label, cp in labelled:
        name = f"{label} of {isoformat(cp.at)}"
        if keys is not None:
            key = keys.get(cp.key_id)
            if key is None:
                reason = (
                    f"{name} (#{cp.seq}) is signed by key {cp.key_id!r}, "
                    "which is not among the given public keys"
                )
                return replace(chain, ok=False, first_broken_seq=cp.seq, reason=reason)
            if not cp.verifies_with(key):
                reason = f"{name} (#{cp.seq}): the signature does not verify (forged or altered)"
                return replace(chain, ok=False, first_broken_seq=cp.seq, reason=reason)
        if cp.seq > head:
            reason = f"events after #{head} were removed ({name} vouches for #{cp.seq})"
            return replace(chain, ok=False, first_broken_seq=head + 1, reason=reason)
        actual = GENESIS_HASH if cp.seq == 0 else hashes.get(cp.seq)
        if actual != cp.hash:
            reason = (
                f"{name} vouches for event #{cp.seq} with hash {cp.hash[:16]}..., but the "
                f"stored event's hash is {str(actual)[:16]}... (the events up to #{cp.seq} "
                "were rewritten, or the checkpoint was forged)"
            )
            return replace(chain, ok=False, first_broken_seq=cp.seq, reason=reason)
    return replace(
        chain,
        checkpoints_checked=len(labelled),
        checkpoint_seq=max((cp.seq for _, cp in labelled), default=None),
        signatures_checked=keys is not None and bool(labelled),
    )
