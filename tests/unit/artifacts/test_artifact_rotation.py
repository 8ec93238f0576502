"""Master-key rotation re-wraps data keys without touching ciphertext, and verifies."""

from __future__ import annotations

import secrets
from pathlib import Path

import fsspec
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from conveyor.artifacts import ArtifactStore, MasterKey
from conveyor.artifacts._crypto import _HEADER, HEADER_SIZE, MAGIC
from conveyor.core import hash_bytes
from conveyor.errors import EncryptionKeyError, IntegrityError

CHUNK = 64


def _store(root: Path, key: MasterKey | None, *, encrypt: bool = True) -> ArtifactStore:
    return ArtifactStore(
        fsspec.filesystem("file"),
        str(root),
        url=str(root),
        kind="local",
        master_key=key,
        encrypt=encrypt,
        chunk_size=CHUNK,
    )


def _stored(root: Path, digest: str) -> bytes:
    return (root / "objects" / digest[:2] / digest[2:]).read_bytes()


def _seal_format_1(root: Path, key: MasterKey, data: bytes) -> str:
    """An object as the first encrypted format wrote it (whole header bound to chunks)."""
    data_key, prefix = AESGCM.generate_key(bit_length=256), secrets.token_bytes(4)
    header = _HEADER.pack(
        MAGIC, 1, bytes.fromhex(key.fingerprint), CHUNK, prefix, aes_key_wrap(key.raw, data_key)
    )
    aead, body = AESGCM(data_key), bytearray()
    pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for n, piece in enumerate(pieces):
        final = b"\x01" if n == len(pieces) - 1 else b"\x00"
        body += aead.encrypt(prefix + n.to_bytes(8, "big"), piece, header + final)
    digest = hash_bytes(data)
    path = root / "objects" / digest[:2] / digest[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + bytes(body))
    return digest


def test_rotation_rewraps_keys_keeps_ciphertext_and_every_object_opens(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    old, new = MasterKey.generate(), MasterKey.generate()
    store = _store(root, old)
    contents = [b"", b"small", secrets.token_bytes(CHUNK * 5 + 3)]
    hashes = [store.put_bytes(data).hash for data in contents]
    plain = _store(root, None, encrypt=False).put_bytes(b"stored in plaintext").hash
    legacy_data = b"written by format 1 " * 20
    legacy = _seal_format_1(root, old, legacy_data)
    before = {h: _stored(root, h) for h in hashes}

    result = store.rotate_master_key(new)

    assert (result.rewrapped, result.reencrypted, result.plaintext) == (3, 1, 0)
    assert result.verified == 4
    assert (result.old_fingerprint, result.new_fingerprint) == (old.fingerprint, new.fingerprint)
    for digest in hashes:
        after = _stored(root, digest)
        assert after[HEADER_SIZE:] == before[digest][HEADER_SIZE:]  # ciphertext untouched
        assert after[:HEADER_SIZE] != before[digest][:HEADER_SIZE]
    reopened = _store(root, new)
    for digest, data in zip([*hashes, legacy], [*contents, legacy_data], strict=True):
        assert reopened.get_bytes(digest) == data
    assert reopened.get_bytes(plain) == b"stored in plaintext"
    with pytest.raises(EncryptionKeyError, match=new.fingerprint):
        _store(root, old).get_bytes(hashes[1])
    again = reopened.rotate_master_key(new)
    assert (again.already_rotated, again.rewrapped, again.verified) == (4, 0, 0)


def test_rotation_with_a_key_that_does_not_open_the_objects_changes_nothing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "artifacts"
    real = MasterKey.generate()
    digest = _store(root, real).put_bytes(b"secret").hash
    before = _stored(root, digest)
    with pytest.raises(EncryptionKeyError, match=real.fingerprint):
        _store(root, MasterKey.generate()).rotate_master_key(MasterKey.generate())
    assert _stored(root, digest) == before
    with pytest.raises(EncryptionKeyError, match="no current key"):
        _store(root, None, encrypt=False).rotate_master_key(MasterKey.generate())


def test_an_altered_fingerprint_is_detected_although_it_is_not_bound_to_chunks(
    tmp_path: Path,
) -> None:
    root = tmp_path / "artifacts"
    key = MasterKey.generate()
    store = _store(root, key)
    digest = store.put_bytes(b"data").hash
    path = root / "objects" / digest[:2] / digest[2:]
    raw = bytearray(path.read_bytes())
    raw[9] ^= 0x01  # first fingerprint byte
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="fingerprint does not match"):
        store.get_bytes(digest)
