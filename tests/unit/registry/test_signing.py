"""Signing statements and keys: canonical bytes, the key file formats accepted, and checks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import ConveyorError
from conveyor.registry import Signature, SigningKeyError, load_private_key
from conveyor.registry._signing import (
    check,
    manifest_objects,
    public_key_text,
    sign,
    statement,
    statement_hash,
)

KEY = Ed25519PrivateKey.generate()
HASH = "ab" * 32
AT = datetime(2026, 1, 1, tzinfo=UTC)


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def recorded(data: bytes, key: Ed25519PrivateKey = KEY, name: str = "release") -> Signature:
    return Signature(
        "churn", 3, name, public_key_text(key), sign(key, data), statement_hash(data), AT, "a"
    )


@given(st.lists(st.text("0123456789abcdef", min_size=64, max_size=64), max_size=8))
def test_the_statement_ignores_object_order_and_duplicates(objects: list[str]) -> None:
    forward = statement("churn", 3, HASH, objects, "release")
    assert forward == statement("churn", 3, HASH, list(reversed(objects)) + objects, "release")


def test_the_statement_names_every_signed_fact() -> None:
    base = statement("churn", 3, HASH, [HASH], "release")
    assert base != statement("churn", 4, HASH, [HASH], "release")
    assert base != statement("churn2", 3, HASH, [HASH], "release")
    assert base != statement("churn", 3, "cd" * 32, [HASH], "release")
    assert base != statement("churn", 3, HASH, [HASH, "cd" * 32], "release")
    assert base != statement("churn", 3, HASH, [HASH], "ops")


def test_manifest_objects_include_the_twin_files() -> None:
    manifest = {
        "files": {"model.bin": {"hash": "b" * 64}},
        "onnx": {"files": {"model.onnx": {"hash": "c" * 64}}},
    }
    assert manifest_objects("a" * 64, manifest) == ["a" * 64, "b" * 64, "c" * 64]
    assert manifest_objects("a" * 64, {"files": {}, "onnx": None}) == ["a" * 64]


def test_a_raw_base64_key_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(base64.b64encode(raw(KEY)).decode() + "\n")
    assert public_key_text(load_private_key(path)) == public_key_text(KEY)


def test_a_pkcs8_pem_key_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert public_key_text(load_private_key(path)) == public_key_text(KEY)


def test_another_algorithm_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "ec.pem"
    path.write_bytes(
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SigningKeyError, match="not an ed25519 key"):
        load_private_key(path)


def test_an_encrypted_pem_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "enc.pem"
    path.write_bytes(
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    with pytest.raises(SigningKeyError, match="not an unencrypted PKCS8 PEM"):
        load_private_key(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello", base64.b64encode(b"k" * 33), b"\xff\xfe\x80", b"=" * 44],
)
def test_anything_else_is_refused_without_echoing_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(SigningKeyError, match="neither PEM nor base64 of 32 bytes") as e:
        load_private_key(path)
    assert e.value.hint
    assert isinstance(e.value, ConveyorError)
    if content:
        assert content.decode("latin-1") not in str(e.value)


def test_a_missing_or_huge_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="Cannot read signing key file"):
        load_private_key(tmp_path / "absent.key")
    huge = tmp_path / "huge.key"
    huge.write_bytes(b"A" * 100_000)
    with pytest.raises(SigningKeyError, match="too large for a key"):
        load_private_key(huge)


def test_check_tells_valid_configured_changed_and_forged_apart() -> None:
    data = statement("churn", 3, HASH, [HASH], "release")
    other = Ed25519PrivateKey.generate()
    good = recorded(data)
    forged = Signature(*[*vars(good).values()][:4], sign(other, data), *[*vars(good).values()][5:])
    garbage = Signature(*[*vars(good).values()][:4], "!!not base64!!", *[*vars(good).values()][5:])
    keys = {"release": public_key_text(KEY)}
    result = check([good, forged, garbage], {"release": data}, keys, "churn@3")
    assert [r.valid for r in result.results] == [True, False, False]
    assert result.trusted_keys == ["release"]
    assert "does not verify" in result.results[1].reason
    changed = statement("churn", 3, "cd" * 32, [HASH], "release")
    stale = check([good], {"release": changed}, keys, "churn@3")
    assert not stale.trusted
    assert "no longer matches" in stale.results[0].reason
    assert check([good], {"release": data}, {"release": "junk"}, "x").trusted_keys == []
    assert check([], {}, keys, "churn@3").describe() == "it has no signature"
