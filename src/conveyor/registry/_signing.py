"""Signatures of model versions: what is signed, reading keys, and checking signatures.

A signature is ed25519 over a canonical *statement* of the version: the model name, the
version number, the content hash of its manifest, the sorted content hashes of every object
the manifest references, and the name of the signing key. A signature stays valid exactly
as long as those facts do: a version whose recorded content hash (or manifest) changed no
longer matches the statement it was signed with.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from conveyor.core import isoformat
from conveyor.errors import ConveyorError, IntegrityError

#: Names the statement format, so a signature can never be replayed as another kind.
STATEMENT_KIND = "conveyor.model-version/1"
#: Larger key files are refused unread (a key file is well under 1 KiB).
_MAX_KEY_FILE = 16 * 1024


class SigningKeyError(ConveyorError, ValueError):
    """A signing or public key cannot be used (unreadable, wrong format, not ed25519)."""

    code = "signing_key_invalid"


class SignatureInvalidError(IntegrityError):
    """A version carries a signature that does not verify (exit 3, as other tampering)."""

    code = "signature_invalid"


@dataclass(frozen=True)
class NewSignature:
    """A signature as the registry hands it to its records backend.

    Attributes:
        key_name: The name the key is configured under (``signing.public_keys``).
        public_key: The ed25519 public key, base64 of its 32 raw bytes.
        signature: The ed25519 signature of the statement, base64.
        statement_hash: SHA-256 (hex) of the signed statement.
    """

    key_name: str
    public_key: str
    signature: str
    statement_hash: str


@dataclass(frozen=True)
class Signature:
    """One recorded signature of a model version (a version may have several).

    Attributes:
        name: The model name.
        version: The version number.
        key_name: The key's name.
        public_key: The ed25519 public key (base64).
        signature: The signature (base64).
        statement_hash: SHA-256 (hex) of the statement that was signed.
        at: When it was recorded (UTC).
        actor: Who recorded it.
    """

    name: str
    version: int
    key_name: str
    public_key: str
    signature: str
    statement_hash: str
    at: datetime
    actor: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = asdict(self)
        out["at"] = isoformat(self.at)
        return out


@dataclass(frozen=True)
class SignatureResult:
    """How one recorded signature fared.

    Attributes:
        key_name: The key's name.
        public_key: The public key recorded with the signature (base64).
        valid: The signature verifies over the version's current statement.
        configured: ``key_name`` is among the configured keys with this very public key.
        reason: Why it is not valid or not configured (empty when it is both).
        at: When it was recorded.
        actor: Who recorded it.
    """

    key_name: str
    public_key: str
    valid: bool
    configured: bool
    reason: str
    at: datetime
    actor: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        out = asdict(self)
        out["at"] = isoformat(self.at)
        return out


@dataclass(frozen=True)
class SignatureCheck:
    """The signatures of a version checked against a set of configured public keys.

    Attributes:
        ref: The version (``name@version``).
        results: One result per recorded signature, oldest first.
    """

    ref: str
    results: tuple[SignatureResult, ...]

    @property
    def trusted_keys(self) -> list[str]:
        """Names of configured keys that signed the version validly, sorted."""
        return sorted({r.key_name for r in self.results if r.valid and r.configured})

    @property
    def trusted(self) -> bool:
        """At least one configured key signed the version validly."""
        return bool(self.trusted_keys)

    @property
    def invalid(self) -> list[SignatureResult]:
        """The signatures that do not verify (tampering, or a damaged record)."""
        return [r for r in self.results if not r.valid]

    def describe(self) -> str:
        """One line saying what was found, for messages."""
        if not self.results:
            return "it has no signature"
        parts = []
        for r in self.results:
            state = "valid" if r.valid and r.configured else r.reason
            parts.append(f"{r.key_name!r}: {state}")
        return "signatures " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "ref": self.ref,
            "trusted": self.trusted,
            "trusted_keys": self.trusted_keys,
            "signatures": [r.to_dict() for r in self.results],
        }


def manifest_objects(content_hash: str, manifest: Mapping[str, Any]) -> list[str]:
    """The sorted content hashes of the manifest and of every object it references."""
    hashes = {content_hash}
    for part in (manifest, manifest.get("onnx") or {}):
        files = part.get("files") or {}
        hashes.update(str(entry["hash"]) for entry in files.values())
    return sorted(hashes)


def statement(
    name: str, version: int, content_hash: str, objects: Iterable[str], key_name: str
) -> bytes:
    """The canonical bytes a signature of ``name@version`` by ``key_name`` covers.

    Example:
        >>> statement("churn", 3, "ab" * 32, ["ab" * 32], "release")[:40]
        b'{"content_hash":"abababababababababababa'
    """
    body = {
        "content_hash": content_hash,
        "key_name": key_name,
        "kind": STATEMENT_KIND,
        "model": name,
        "objects": sorted(set(objects)),
        "version": version,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def statement_hash(data: bytes) -> str:
    """SHA-256 (hex) of a statement."""
    return hashlib.sha256(data).hexdigest()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an ed25519 private key: the raw 32 bytes as base64, or PEM (PKCS8, unencrypted).

    Raises:
        SigningKeyError: the file is missing, too large, or holds another kind of key
            (the message never shows the file's content).
    """
    path = Path(path)
    hint = (
        "Create a key as docs/signing.md shows: base64 of the 32 raw bytes of an ed25519 "
        "private key, or an unencrypted PKCS8 PEM file."
    )
    try:
        size = path.stat().st_size
        if size > _MAX_KEY_FILE:
            raise SigningKeyError(
                f"Signing key file {str(path)!r} is {size} bytes: too large for a key.",
                hint=hint,
                path=str(path),
            )
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(
            f"Cannot read signing key file {str(path)!r}: {exc.strerror or exc}.",
            hint=hint,
            path=str(path),
        ) from exc
    if data.lstrip().startswith(b"-----BEGIN"):
        return _pem_key(data, path, hint)
    raw = _b64(data.strip(), 32)
    if raw is None:
        raise SigningKeyError(
            f"Signing key file {str(path)!r} is neither PEM nor base64 of 32 bytes.",
            hint=hint,
            path=str(path),
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def _pem_key(data: bytes, path: Path, hint: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SigningKeyError(
            f"Signing key file {str(path)!r} is not an unencrypted PKCS8 PEM private key.",
            hint=hint,
            path=str(path),
        ) from exc
    except Exception as exc:  # unsupported algorithms surface as library-specific errors
        raise SigningKeyError(
            f"Signing key file {str(path)!r} holds a key this library cannot read.",
            hint=hint,
            path=str(path),
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"Signing key file {str(path)!r} holds a {type(key).__name__.lstrip('_')}, "
            "not an ed25519 key.",
            hint=hint,
            path=str(path),
        )
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half of ``key`` as base64 of its 32 raw bytes."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    """The ed25519 signature of ``data`` as base64."""
    return base64.b64encode(key.sign(data)).decode("ascii")


def check(
    recorded: Sequence[Signature],
    current: Mapping[str, bytes],
    public_keys: Mapping[str, str],
    ref: str,
) -> SignatureCheck:
    """Check each recorded signature against the version's current statements.

    Args:
        recorded: The version's signatures, oldest first.
        current: Key name -> the statement the version has now for that key.
        public_keys: The configured keys (name -> base64 public key).
        ref: The version, for the result.
    """
    results = []
    for sig in recorded:
        data = current[sig.key_name]
        matches = statement_hash(data) == sig.statement_hash
        valid = matches and _verifies(sig.public_key, sig.signature, data)
        configured_key = public_keys.get(sig.key_name)
        configured = configured_key is not None and _same_key(configured_key, sig.public_key)
        if not matches:
            reason = "invalid: the version no longer matches the statement that was signed"
        elif not valid:
            reason = "invalid: the signature does not verify with its public key"
        elif configured_key is None:
            reason = "valid, but the key is not configured under signing.public_keys"
        elif not configured:
            reason = "valid, but made with another key than the one configured under that name"
        else:
            reason = ""
        results.append(
            SignatureResult(
                sig.key_name, sig.public_key, valid, configured, reason, sig.at, sig.actor
            )
        )
    return SignatureCheck(ref, tuple(results))


def _b64(text: bytes, size: int) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def _verifies(public_key: str, signature: str, data: bytes) -> bool:
    raw_key = _b64(public_key.encode("ascii", "replace"), 32)
    raw_sig = _b64(signature.encode("ascii", "replace"), 64)
    if raw_key is None or raw_sig is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(raw_sig, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _same_key(configured: str, recorded: str) -> bool:
    a = _b64(configured.strip().encode("ascii", "replace"), 32)
    b = _b64(recorded.encode("ascii", "replace"), 32)
    return a is not None and a == b
