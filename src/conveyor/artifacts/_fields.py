"""Field encryption: small JSON values sealed for the metadata database.

Values such as a profile's top category values or a model's input example live in the
metadata database, not in the artifact store. With encryption at rest they are sealed
with AES-256-GCM under one *field key* per artifact store; the field key itself is
stored wrapped by the master key (``<root>/keys/fields.key``), so rotating the master key
re-wraps it and no database value is rewritten (envelope encryption, as for objects).

A sealed value is the text ``cvyf1:`` + URL-safe base64 of ``nonce (12) | ciphertext``;
the associated data is a caller-chosen context (for example ``"dataset:orders@3:top"``),
so a value copied to another field does not open.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import secrets
import struct
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from conveyor.artifacts._keys import KEY_HINT, MasterKey
from conveyor.errors import EncryptionKeyError, IntegrityError

PREFIX = "cvyf1:"
_NONCE = 12
_FILE_MAGIC = b"CVYFKEY1"
_FILE = struct.Struct(">8s8s40s")
FIELD_KEY_SIZE = _FILE.size


def is_sealed(value: object) -> bool:
    """True when ``value`` is a sealed field (text starting with ``cvyf1:``)."""
    return isinstance(value, str) and value.startswith(PREFIX)


class FieldCipher:
    """Seal and open JSON values with a store's field key.

    Build it with :meth:`ArtifactStore.field_cipher`. Thread-safe (no mutable state).

    Example:
        >>> cipher = FieldCipher(AESGCM.generate_key(bit_length=256))
        >>> cipher.open(cipher.seal(["DE", 3], context="c"), context="c")
        ['DE', 3]
    """

    __slots__ = ("_aead",)

    def __init__(self, field_key: bytes) -> None:
        self._aead = AESGCM(field_key)

    def seal(self, value: Any, *, context: str) -> str:
        """Encrypt the JSON value ``value`` bound to ``context``; return the sealed text."""
        plain = json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, plain, context.encode("utf-8"))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, *, context: str) -> Any:
        """Decrypt a value sealed by :meth:`seal` with the same ``context``.

        Raises:
            IntegrityError: ``token`` is malformed, altered, sealed for another context,
                or sealed with another field key.
        """
        try:
            if not token.startswith(PREFIX):
                raise ValueError("no cvyf1: prefix")
            raw = base64.urlsafe_b64decode(token[len(PREFIX) :].encode("ascii"))
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], context.encode("utf-8"))
            return json.loads(plain)
        except (ValueError, binascii.Error, InvalidTag, UnicodeError) as exc:
            raise IntegrityError(
                f"Encrypted field {context!r} does not open: altered, copied from another "
                "field, or sealed with another workspace's key.",
                hint="Restore the metadata database from a backup, or re-add the record.",
                context=context,
            ) from exc


def new_field_key_file(master: MasterKey) -> tuple[bytes, bytes]:
    """A fresh field key and its stored form (wrapped by ``master``)."""
    field_key = AESGCM.generate_key(bit_length=256)
    return field_key, wrap_field_key(field_key, master)


def wrap_field_key(field_key: bytes, master: MasterKey) -> bytes:
    """The stored form of ``field_key``: magic, master fingerprint, wrapped key."""
    wrapped = aes_key_wrap(master.raw, field_key)
    return _FILE.pack(_FILE_MAGIC, bytes.fromhex(master.fingerprint), wrapped)


def unwrap_field_key(stored: bytes, master: MasterKey, *, where: str) -> bytes:
    """The field key from its stored form.

    Raises:
        EncryptionKeyError: it is wrapped by another master key.
        IntegrityError: the stored form is damaged.
    """
    if len(stored) != FIELD_KEY_SIZE or stored[: len(_FILE_MAGIC)] != _FILE_MAGIC:
        raise IntegrityError(
            f"The field key {where} is damaged ({len(stored)} bytes).",
            hint="Restore it from a backup of the artifact store.",
            path=where,
        )
    _, fingerprint, wrapped = _FILE.unpack(stored)
    try:
        return aes_key_unwrap(master.raw, wrapped)
    except InvalidUnwrap as exc:
        if fingerprint.hex() != master.fingerprint:
            raise EncryptionKeyError(
                f"The field key {where} is encrypted with key {fingerprint.hex()}, the "
                f"configured key is {master.fingerprint}.",
                hint=f"Configure the master key with fingerprint {fingerprint.hex()}. {KEY_HINT}",
                path=where,
            ) from exc
        raise IntegrityError(
            f"The field key {where} is damaged: it does not open with its master key.",
            hint="Restore it from a backup of the artifact store.",
            path=where,
        ) from exc


def load_field_key(fs: Any, path: str, master: MasterKey | None, *, url: str) -> bytes:
    """The field key stored at ``path``, created (wrapped by ``master``) if missing.

    Two processes creating it at once agree: the file is created exclusively and the
    loser reads the winner's key.

    Raises:
        EncryptionKeyError: no master key, or the file is wrapped by another one.
        IntegrityError: the file is damaged.
    """
    if master is None:
        raise EncryptionKeyError(
            f"Cannot seal or open encrypted fields of {url}: no master key is configured.",
            hint=KEY_HINT,
            url=url,
        )
    if not fs.exists(path):
        field_key, stored = new_field_key_file(master)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        try:
            with fs.open(path, "xb") as handle:
                handle.write(stored)
            return field_key
        except FileExistsError:
            pass  # created meanwhile by another process: use that one
    return unwrap_field_key(bytes(fs.cat_file(path)), master, where=path)


def rewrap_field_key_file(fs: Any, path: str, old: MasterKey, new: MasterKey) -> bool:
    """Re-wrap the field key at ``path`` from ``old`` to ``new``; ``False`` if there is none.

    The sealed values in the database do not change (the field key stays the same).
    """
    if not fs.exists(path):
        return False
    stored = bytes(fs.cat_file(path))
    _, fingerprint, _ = _FILE.unpack(stored) if len(stored) == FIELD_KEY_SIZE else (b"", b"", b"")
    if fingerprint.hex() == new.fingerprint:
        return True
    field_key = unwrap_field_key(stored, old, where=path)
    # Write beside it, then rename over it: a crash leaves the old or the new form, never
    # a damaged key (which would lose every sealed value).
    fs.pipe_file(f"{path}.new", wrap_field_key(field_key, new))
    fs.mv(f"{path}.new", path)
    return True


# Dataset profiles: the value-bearing statistics (top values, string min/max) are sealed
# for the metadata database, bound to the version and column; counts stay readable. Kept
# here so every record package that shows a profile (data, the registry's cards) opens
# them the same way.


def _context(owner: str, column: str, key: str) -> str:
    return f"{owner}:{column}:{key}"


def _sensitive(key: str, value: Any) -> bool:
    return key == "top" or (key in ("min", "max") and isinstance(value, str))


def seal_profile(
    profile: dict[str, Any] | None, cipher: FieldCipher, owner: str
) -> dict[str, Any] | None:
    """A copy of ``profile`` whose value-bearing statistics are sealed for ``owner``
    (``dataset:<name>@<version>``); counts, shares and numeric statistics stay readable."""
    if not profile:
        return profile
    sealed = copy.deepcopy(profile)
    for column, stats in (sealed.get("columns") or {}).items():
        for key, value in list(stats.items()):
            if _sensitive(key, value) and not is_sealed(value):
                stats[key] = cipher.seal(value, context=_context(owner, column, key))
    return sealed


def is_sealed_profile(profile: dict[str, Any] | None) -> bool:
    """True when some statistic of ``profile`` is sealed."""
    columns = (profile or {}).get("columns") or {}
    return any(is_sealed(v) for stats in columns.values() for v in stats.values())


def unseal_profile(
    profile: dict[str, Any] | None, cipher: Callable[[], FieldCipher], owner: str
) -> dict[str, Any] | None:
    """``profile`` with its sealed statistics opened (the cipher is built only if needed).

    Raises:
        EncryptionKeyError: values are sealed and no (or another) master key is configured.
        IntegrityError: a sealed value was altered or copied from another field.
    """
    if not is_sealed_profile(profile):
        return profile
    assert profile is not None
    opened = copy.deepcopy(profile)
    field_cipher = cipher()
    for column, stats in opened["columns"].items():
        for key, value in list(stats.items()):
            if is_sealed(value):
                stats[key] = field_cipher.open(value, context=_context(owner, column, key))
    return opened
