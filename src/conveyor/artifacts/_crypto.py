"""Envelope encryption at rest: AES-256-GCM data keys wrapped by the master key.

Each object gets a fresh random 32-byte data key, wrapped with the master key (AES key
wrap, RFC 3394) and stored in a fixed-size header::

    magic (8) | version (1) | master-key fingerprint (8) | chunk size (4)
    | nonce prefix (4) | wrapped data key (40)

The body is the plaintext cut into chunks, each sealed with AES-GCM. ``cryptography`` has
no streaming AEAD, so this implements the STREAM construction (Hoang, Reyhanitabar,
Rogaway, Vizar 2015) on top of one-shot AES-GCM: the nonce is the random prefix plus a
64-bit chunk counter, and the associated data is the whole header plus a byte that marks
the final chunk. Reordered, swapped or dropped chunks fail authentication (wrong counter),
truncation at a chunk boundary fails (the new last chunk was not sealed as final), and a
changed header fails every chunk. Memory use is one chunk, whatever the object size.

Format 2 leaves the key fields (fingerprint, wrapped data key) out of the associated data,
so rotating the master key re-wraps each data key and rewrites only the header: the
ciphertext stays as it is. They stay authenticated otherwise: AES key wrap has its own
integrity check, a substituted wrapped key yields a data key no chunk opens with, and the
fingerprint must be that of the key that unwraps. Format 1 objects (whole header in the
associated data) still open; rotation re-encrypts them.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from conveyor.artifacts._keys import KEY_HINT, MasterKey
from conveyor.errors import EncryptionKeyError, IntegrityError

MAGIC = b"\x89CVYENC\n"
#: Plaintext that begins with MAGIC (or with this marker) is stored behind this marker, so
#: the first stored bytes always say how to read an object, whatever its content.
ESCAPE = b"\x89CVYRAW\n"
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
DEFAULT_CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
_HEADER = struct.Struct(">8sB8sI4s40s")
HEADER_SIZE = _HEADER.size
_MAX_CHUNK_SIZE = 64 * 1024 * 1024  # refuse absurd sizes from a damaged header
_FINAL = b"\x01"
_NOT_FINAL = b"\x00"


class Readable(Protocol):
    """The part of a binary file object the decryptor uses."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Header:
    """The parsed header of an encrypted object."""

    raw: bytes
    version: int
    fingerprint: str
    chunk_size: int
    nonce_prefix: bytes
    wrapped_key: bytes


def is_encrypted(prefix: bytes) -> bool:
    """True when stored bytes start like an encrypted object."""
    return prefix[: len(MAGIC)] == MAGIC


def is_escaped(prefix: bytes) -> bool:
    """True when stored bytes are plaintext stored behind :data:`ESCAPE`."""
    return prefix[: len(ESCAPE)] == ESCAPE


def needs_escape(prefix: bytes) -> bool:
    """True when plaintext starting with ``prefix`` must be stored behind :data:`ESCAPE`."""
    return prefix[: len(MAGIC)] in (MAGIC, ESCAPE)


def plaintext_size(stored_size: int, chunk_size: int) -> int:
    """The content size of an encrypted object of ``stored_size`` bytes."""
    body = stored_size - HEADER_SIZE
    chunks = max(1, -(-body // (chunk_size + TAG_SIZE)))
    return max(0, body - chunks * TAG_SIZE)


def parse_header(data: bytes, *, digest: str, url: str) -> Header:
    """Parse and sanity-check a header (authenticity is checked with the first chunk).

    Raises:
        IntegrityError: if the header is truncated or carries impossible values.
    """
    if len(data) < HEADER_SIZE or not is_encrypted(data):
        raise _damaged(digest, url, "its encryption header is truncated")
    magic, version, fingerprint, chunk_size, prefix, wrapped = _HEADER.unpack(data[:HEADER_SIZE])
    del magic
    if version not in _READABLE_VERSIONS or not 0 < chunk_size <= _MAX_CHUNK_SIZE:
        raise _damaged(digest, url, f"its header is invalid (version {version})")
    return Header(data[:HEADER_SIZE], version, fingerprint.hex(), chunk_size, prefix, wrapped)


class Encryptor:
    """Seal a plaintext stream; feed with :meth:`update`, end with :meth:`finalize`.

    The header is available at once (:attr:`header`); every returned piece is appended
    to the stored object in order.
    """

    def __init__(self, master: MasterKey, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        data_key = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(data_key)
        self._prefix = secrets.token_bytes(4)
        self._chunk_size = chunk_size
        self._counter = 0
        self._buffer = bytearray()
        self.header = _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            bytes.fromhex(master.fingerprint),
            chunk_size,
            self._prefix,
            aes_key_wrap(master.raw, data_key),
        )
        self._aad = associated_data(self.header, FORMAT_VERSION)

    def update(self, data: bytes | memoryview) -> bytes:
        """Add plaintext; return the sealed chunks completed so far."""
        self._buffer += data
        out = bytearray()
        # Keep at least one byte back: only finalize() knows which chunk is the last.
        while len(self._buffer) > self._chunk_size:
            out += self._seal(bytes(self._buffer[: self._chunk_size]), final=False)
            del self._buffer[: self._chunk_size]
        return bytes(out)

    def finalize(self) -> bytes:
        """Seal the last (possibly empty) chunk, marked final."""
        out = self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()
        return out

    def _seal(self, chunk: bytes, *, final: bool) -> bytes:
        nonce = self._prefix + self._counter.to_bytes(8, "big")
        self._counter += 1
        return self._aead.encrypt(nonce, chunk, self._aad + (_FINAL if final else _NOT_FINAL))


def decrypt_chunks(
    header: Header, body: Readable, master: MasterKey | None, *, digest: str, url: str
) -> Iterator[bytes]:
    """Yield the plaintext chunks of an encrypted object whose header was already read.

    Every chunk is authenticated before it is yielded, and at least one chunk (maybe
    empty) is yielded for a well-formed object.

    Raises:
        EncryptionKeyError: no key, or a key other than the one the object was sealed with.
        IntegrityError: any changed, missing, reordered or extra byte.
    """
    data_key = _unwrap(header, master, digest=digest, url=url)
    aead = AESGCM(data_key)
    aad = associated_data(header.raw, header.version)
    size = header.chunk_size + TAG_SIZE
    counter = 0
    current = read_exact(body, size)
    while True:
        following = read_exact(body, size) if len(current) == size else b""
        final = not following
        nonce = header.nonce_prefix + counter.to_bytes(8, "big")
        try:
            yield aead.decrypt(nonce, current, aad + (_FINAL if final else _NOT_FINAL))
        except InvalidTag as exc:
            raise _damaged(digest, url, f"chunk {counter} fails authentication") from exc
        if final:
            return
        counter += 1
        current = following


def _unwrap(header: Header, master: MasterKey | None, *, digest: str, url: str) -> bytes:
    if master is None:
        raise _key_error(header, None, digest, url)
    try:
        data_key = aes_key_unwrap(master.raw, header.wrapped_key)
    except InvalidUnwrap as exc:
        if header.fingerprint != master.fingerprint:
            raise _key_error(header, master, digest, url) from exc
        # Right key, yet the wrapped key does not open: the header was altered.
        raise _damaged(digest, url, "its wrapped data key does not open") from exc
    if header.fingerprint != master.fingerprint:
        # The key opens it, so the fingerprint (not in format 2's associated data) was altered.
        raise _damaged(digest, url, "its key fingerprint does not match the key that opens it")
    return data_key


def associated_data(raw_header: bytes, version: int) -> bytes:
    """What every chunk's tag covers besides the final-chunk marker: the whole header in
    format 1; in format 2 the header without the key fields, so they can be re-wrapped."""
    if version == 1:
        return raw_header[:HEADER_SIZE]
    return raw_header[:9] + raw_header[17:25]  # magic, version | chunk size, nonce prefix


def rewrap_header(
    header: Header, old: MasterKey, new: MasterKey, *, digest: str, url: str
) -> bytes:
    """The header of a format-2 object re-wrapped from ``old`` to ``new`` (same data key).

    Raises:
        EncryptionKeyError: ``old`` does not open the object.
        IntegrityError: the header was altered.
    """
    data_key = _unwrap(header, old, digest=digest, url=url)
    return _HEADER.pack(
        MAGIC,
        header.version,
        bytes.fromhex(new.fingerprint),
        header.chunk_size,
        header.nonce_prefix,
        aes_key_wrap(new.raw, data_key),
    )


def _key_error(header: Header, master: MasterKey | None, digest: str, url: str) -> Exception:
    configured = (
        f"configured key is {master.fingerprint}" if master is not None else "no key is configured"
    )
    return EncryptionKeyError(
        f"Object {digest} in {url} is encrypted with key {header.fingerprint}, {configured}.",
        hint=f"Configure the master key with fingerprint {header.fingerprint}. {KEY_HINT}",
        hash=digest,
        url=url,
        object_fingerprint=header.fingerprint,
        configured_fingerprint=master.fingerprint if master is not None else None,
    )


def _damaged(digest: str, url: str, why: str) -> IntegrityError:
    return IntegrityError(
        f"Object {digest} in {url} is corrupt: {why}.",
        hint="Restore the object from a replica or re-add its source; `gc` does not repair it.",
        hash=digest,
        url=url,
    )


def read_exact(stream: Readable, size: int) -> bytes:
    """Read ``size`` bytes unless the stream ends first (some streams return short reads)."""
    data = stream.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = stream.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)
