"""Encryption at rest on local and S3 stores: keys, tampering, truncation, dedupe across modes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from artifact_backends import Backend, flip_byte

from conveyor.artifacts import MasterKey
from conveyor.artifacts._crypto import DEFAULT_CHUNK_SIZE, HEADER_SIZE, MAGIC, TAG_SIZE
from conveyor.errors import EncryptionKeyError, IntegrityError

MIB = 1024 * 1024
SEALED_CHUNK = DEFAULT_CHUNK_SIZE + TAG_SIZE


def test_stored_bytes_do_not_contain_the_plaintext(encrypted_backend: Backend) -> None:
    secret = b"customer-ssn-123-45-6789 " * 100
    info = encrypted_backend.open().put_bytes(secret)
    stored = encrypted_backend.read_raw(info.hash)
    assert stored.startswith(MAGIC)
    assert b"customer-ssn" not in stored


def test_reading_without_a_key_names_the_object_key(encrypted_backend: Backend) -> None:
    info = encrypted_backend.open().put_bytes(b"sealed")
    reader = encrypted_backend.open(master_key=None, encrypt=False)
    assert encrypted_backend.key is not None
    expected = (
        f"Object {info.hash} in {re.escape(reader.url)} is encrypted with key "
        f"{encrypted_backend.key.fingerprint}, no key is configured"
    )
    with pytest.raises(EncryptionKeyError, match=expected) as caught:
        reader.get_bytes(info.hash)
    assert "CONVEYOR_MASTER_KEY" in (caught.value.hint or "")


def test_reading_with_another_key_names_both_fingerprints(
    encrypted_backend: Backend, tmp_path: Path
) -> None:
    info = encrypted_backend.open().put_bytes(b"sealed")
    other = MasterKey.generate()
    reader = encrypted_backend.open(master_key=other, encrypt=True)
    assert encrypted_backend.key is not None
    expected = (
        f"encrypted with key {encrypted_backend.key.fingerprint}, "
        f"configured key is {other.fingerprint}"
    )
    with pytest.raises(EncryptionKeyError, match=expected):
        reader.get_bytes(info.hash)
    with pytest.raises(EncryptionKeyError, match=expected):
        reader.get_file(info.hash, tmp_path / "dest.bin")
    assert not (tmp_path / "dest.bin").exists()


def test_a_key_without_encrypt_reads_encrypted_and_writes_plain(encrypted_backend: Backend) -> None:
    sealed = encrypted_backend.open().put_bytes(b"sealed earlier")
    store = encrypted_backend.open(encrypt=False)
    assert store.get_bytes(sealed.hash) == b"sealed earlier"
    assert store.put_bytes(b"written now").encrypted is False


def test_same_content_is_stored_once_whatever_the_mode(encrypted_backend: Backend) -> None:
    plain = encrypted_backend.open(encrypt=False).put_bytes(b"shared content")
    again = encrypted_backend.open().put_bytes(b"shared content")
    assert again == plain  # reused as is, still plaintext
    assert [o.hash for o in encrypted_backend.open().iter_objects()] == [plain.hash]


def test_truncation_at_a_chunk_boundary_is_detected(encrypted_backend: Backend) -> None:
    store = encrypted_backend.open()
    info = store.put_bytes(os.urandom(3 * MIB + 10))
    assert store.info(info.hash).size == 3 * MIB + 10
    encrypted_backend.damage(info.hash, lambda stored: stored[: HEADER_SIZE + 2 * SEALED_CHUNK])
    with pytest.raises(IntegrityError, match=f"{info.hash} .* is corrupt: chunk 1 fails"):
        store.get_bytes(info.hash)


def test_swapped_chunks_are_detected(encrypted_backend: Backend) -> None:
    store = encrypted_backend.open()
    info = store.put_bytes(os.urandom(3 * MIB))

    def swap(stored: bytes) -> bytes:
        first = stored[HEADER_SIZE : HEADER_SIZE + SEALED_CHUNK]
        second = stored[HEADER_SIZE + SEALED_CHUNK : HEADER_SIZE + 2 * SEALED_CHUNK]
        return stored[:HEADER_SIZE] + second + first + stored[HEADER_SIZE + 2 * SEALED_CHUNK :]

    encrypted_backend.damage(info.hash, swap)
    with pytest.raises(IntegrityError, match="chunk 0 fails authentication"):
        store.get_bytes(info.hash)


@pytest.mark.parametrize("offset", [9, 12, 20, 30, 64], ids=lambda o: f"header-byte-{o}")
def test_a_changed_header_byte_is_an_integrity_error_with_the_right_key(
    encrypted_backend: Backend, offset: int
) -> None:
    store = encrypted_backend.open()
    info = store.put_bytes(b"header bound to every chunk")
    encrypted_backend.damage(info.hash, flip_byte(offset))
    with pytest.raises(IntegrityError, match=info.hash):
        store.get_bytes(info.hash)
