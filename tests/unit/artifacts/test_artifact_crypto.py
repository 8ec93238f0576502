"""The chunked AES-GCM format: lossless round-trips and detection of every kind of tampering."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.artifacts import MasterKey
from conveyor.artifacts._crypto import (
    HEADER_SIZE,
    TAG_SIZE,
    Encryptor,
    decrypt_chunks,
    parse_header,
    plaintext_size,
)
from conveyor.errors import EncryptionKeyError, IntegrityError

KEY = MasterKey(bytes(range(32)))
DIGEST = "ab" * 32
URL = "memory://unit"


def seal(data: bytes, chunk_size: int, pieces: int = 3) -> bytes:
    enc = Encryptor(KEY, chunk_size)
    out = bytearray(enc.header)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        out += enc.update(data[start : start + step])
    out += enc.finalize()
    return bytes(out)


def open_sealed(stored: bytes, key: MasterKey | None = KEY) -> bytes:
    header = parse_header(stored[:HEADER_SIZE], digest=DIGEST, url=URL)
    body = io.BytesIO(stored[HEADER_SIZE:])
    return b"".join(decrypt_chunks(header, body, key, digest=DIGEST, url=URL))


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_round_trip_is_lossless_and_size_is_recoverable(data: bytes, chunk_size: int) -> None:
    stored = seal(data, chunk_size)
    assert open_sealed(stored) == data
    assert plaintext_size(len(stored), chunk_size) == len(data)


@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_flipped_byte_is_detected(data: bytes, draw: st.DataObject) -> None:
    stored = bytearray(seal(data, 16))
    offset = draw.draw(st.integers(min_value=len(b"\x89CVYENC\n"), max_value=len(stored) - 1))
    stored[offset] ^= 0x01
    with pytest.raises((IntegrityError, EncryptionKeyError)):
        open_sealed(bytes(stored))


def _chunks(stored: bytes, chunk_size: int) -> list[bytes]:
    body = stored[HEADER_SIZE:]
    size = chunk_size + TAG_SIZE
    return [body[i : i + size] for i in range(0, len(body), size)]


def test_dropping_the_final_chunk_is_detected() -> None:
    stored = seal(bytes(100), 16)
    chunks = _chunks(stored, 16)
    with pytest.raises(IntegrityError, match="chunk 5 fails authentication"):
        open_sealed(stored[:HEADER_SIZE] + b"".join(chunks[:-1]))


def test_appending_a_chunk_is_detected() -> None:
    stored = seal(bytes(100), 16)
    chunks = _chunks(stored, 16)
    with pytest.raises(IntegrityError, match="fails authentication"):
        open_sealed(stored + chunks[0])


def test_reordering_chunks_is_detected() -> None:
    stored = seal(bytes(range(100)), 16)
    chunks = _chunks(stored, 16)
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(IntegrityError, match="chunk 1 fails authentication"):
        open_sealed(stored[:HEADER_SIZE] + b"".join(chunks))


def test_a_chunk_from_another_object_is_detected() -> None:
    one, other = seal(bytes(100), 16), seal(bytes(100), 16)
    spliced = one[:HEADER_SIZE] + _chunks(other, 16)[0] + b"".join(_chunks(one, 16)[1:])
    with pytest.raises(IntegrityError, match="chunk 0 fails authentication"):
        open_sealed(spliced)


def test_missing_body_is_detected() -> None:
    with pytest.raises(IntegrityError, match="chunk 0 fails authentication"):
        open_sealed(seal(b"data", 16)[:HEADER_SIZE])


def test_truncated_header_is_detected() -> None:
    with pytest.raises(IntegrityError, match="encryption header is truncated"):
        parse_header(seal(b"data", 16)[: HEADER_SIZE - 1], digest=DIGEST, url=URL)


def test_unknown_format_version_is_refused() -> None:
    stored = bytearray(seal(b"data", 16))
    stored[8] = 99
    with pytest.raises(IntegrityError, match="header is invalid"):
        parse_header(bytes(stored), digest=DIGEST, url=URL)


def test_other_or_missing_key_names_both_fingerprints() -> None:
    stored = seal(b"data", 16)
    other = MasterKey.generate()
    with pytest.raises(
        EncryptionKeyError,
        match=f"encrypted with key {KEY.fingerprint}, configured key is {other.fingerprint}",
    ):
        open_sealed(stored, other)
    with pytest.raises(EncryptionKeyError, match="no key is configured"):
        open_sealed(stored, None)


def test_two_seals_of_the_same_data_differ() -> None:
    assert seal(b"same", 16) != seal(b"same", 16)
