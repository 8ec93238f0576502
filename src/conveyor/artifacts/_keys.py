"""The master key that wraps every per-object data key of an encrypted artifact store."""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from blake3 import blake3

from conveyor.errors import EncryptionKeyError

ENV_VAR = "CONVEYOR_MASTER_KEY"
KEY_SIZE = 32
FINGERPRINT_SIZE = 8  # bytes; 16 hex digits in messages and headers
_FINGERPRINT_CONTEXT = "conveyor 2024 artifact master key fingerprint v1"
_HEX = re.compile(r"[0-9a-fA-F]{64}")
GENERATE_COMMAND = (
    'python -c "from conveyor.artifacts import MasterKey; print(MasterKey.generate().to_text())"'
)
KEY_HINT = (
    f"Set {ENV_VAR} to 64 hex digits or base64 of 32 random bytes "
    f"(generate one with: {GENERATE_COMMAND}), or point the configuration at a key file."
)


class MasterKey:
    """A 32-byte AES-256 key; its text never appears in ``repr``, messages or logs.

    Args:
        key: Exactly 32 bytes.

    Raises:
        EncryptionKeyError: if ``key`` is not 32 bytes.

    Example:
        >>> key = MasterKey.generate()
        >>> MasterKey.parse(key.to_text()) == key
        True
    """

    __slots__ = ("_key", "fingerprint")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            size = len(key) if isinstance(key, bytes) else type(key).__name__
            raise EncryptionKeyError(
                f"A master key must be exactly {KEY_SIZE} bytes, got {size}.",
                hint=KEY_HINT,
            )
        self._key = key
        #: Short, non-secret identifier: a derived BLAKE3 hash, so it reveals nothing of the key.
        self.fingerprint: str = blake3(key, derive_key_context=_FINGERPRINT_CONTEXT).hexdigest(
            length=FINGERPRINT_SIZE
        )

    @property
    def raw(self) -> bytes:
        """The key bytes (for the cipher only)."""
        return self._key

    @classmethod
    def generate(cls) -> MasterKey:
        """Return a new random key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(KEY_SIZE))

    @classmethod
    def parse(cls, text: str, *, source: str = "master key") -> MasterKey:
        """Parse 64 hex digits or base64 (standard or URL-safe) of 32 bytes.

        Raises:
            EncryptionKeyError: saying the expected form; the text itself is never echoed.
        """
        value = text.strip()
        if _HEX.fullmatch(value):
            return cls(bytes.fromhex(value))
        for altchars in (None, b"-_"):  # standard, then URL-safe alphabet
            try:
                raw = base64.b64decode(value.encode("ascii"), altchars=altchars, validate=True)
            except (binascii.Error, ValueError, UnicodeEncodeError):
                continue
            if len(raw) == KEY_SIZE:
                return cls(raw)
        raise EncryptionKeyError(
            f"Malformed {source} ({len(value)} characters): expected 64 hex digits "
            f"or base64 of {KEY_SIZE} bytes.",
            hint=KEY_HINT,
            source=source,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MasterKey | None:
        """The key in ``env``'s ``CONVEYOR_MASTER_KEY``, or ``None`` when it is unset or empty."""
        text = env.get(ENV_VAR, "").strip()
        return cls.parse(text, source=ENV_VAR) if text else None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MasterKey:
        """Read a key file holding the key text (hex or base64).

        Raises:
            EncryptionKeyError: if the file is missing, unreadable or malformed.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise EncryptionKeyError(
                f"Cannot read the master key file {str(p)!r}: {type(exc).__name__}.",
                hint=f"Create it with: {GENERATE_COMMAND} > {p}",
                path=str(p),
            ) from exc
        return cls.parse(text, source=f"master key file {str(p)!r}")

    @classmethod
    def resolve(cls, value: str | None, key_file: str | None) -> MasterKey | None:
        """Build the configured key: ``value`` (key text) wins over ``key_file``; else ``None``."""
        if value is not None and value.strip():
            return cls.parse(value)
        if key_file:
            return cls.from_file(key_file)
        return None

    def to_text(self) -> str:
        """The key as 64 hex digits (the form ``CONVEYOR_MASTER_KEY`` accepts)."""
        return self._key.hex()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"MasterKey(fingerprint={self.fingerprint!r})"
