"""Reading audit checkpoint keys and anchor files: the formats accepted, and clear refusals."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conveyor.core import hash_bytes, utcnow
from conveyor.errors import ConveyorError
from conveyor.store import (
    AuditKeyError,
    CheckpointFileError,
    audit_public_key_text,
    load_audit_private_key,
    load_audit_public_key,
    read_checkpoint_file,
    write_checkpoint_file,
)
from conveyor.store._checkpoints import checkpoint_statement, key_id, sign_checkpoint

KEY = Ed25519PrivateKey.generate()
RAW_PUBLIC = KEY.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw
)


def private_forms() -> dict[str, bytes]:
    raw = KEY.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"base64": base64.b64encode(raw) + b"\n", "pem": pem}


def public_forms() -> dict[str, bytes]:
    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"base64": audit_public_key_text(KEY).encode() + b"\n", "pem": pem}


@pytest.mark.parametrize("form", ["base64", "pem"])
def test_private_and_public_keys_load_in_both_formats(tmp_path: Path, form: str) -> None:
    private = tmp_path / "audit.key"
    private.write_bytes(private_forms()[form])
    public = tmp_path / "audit.pub"
    public.write_bytes(public_forms()[form])
    made = sign_checkpoint(load_audit_private_key(private), 3, "a" * 64, utcnow())
    assert made.verifies_with(load_audit_public_key(public))
    assert made.key_id == key_id(KEY) == hash_bytes(RAW_PUBLIC)[:16]


def test_the_statement_names_its_kind_and_the_head() -> None:
    made = sign_checkpoint(KEY, 3, "a" * 64, utcnow())
    body = json.loads(made.statement())
    assert body == {
        "kind": "conveyor.audit.checkpoint",
        "seq": 3,
        "hash": "a" * 64,
        "at": body["at"],
    }
    assert made.statement() == checkpoint_statement(3, "a" * 64, made.at)
    assert sign_checkpoint(KEY, 4, "a" * 64, made.at).signature != made.signature


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key at all", "is neither PEM nor base64 of 32 bytes"),
        (base64.b64encode(b"x" * 31), "is neither PEM nor base64 of 32 bytes"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not an unencrypted"),
        (
            generate_private_key(SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "not an ed25519 key",
        ),
        (b"A" * 20_000, "too large for a key"),
    ],
)
def test_a_malformed_private_key_file_is_refused_with_its_path_and_a_hint(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(AuditKeyError, match=message) as caught:
        load_audit_private_key(path)
    assert isinstance(caught.value, ConveyorError)
    assert str(path) in caught.value.message
    assert caught.value.hint is not None
    assert "ed25519" in caught.value.hint
    assert caught.value.fields["path"] == str(path)


def test_a_missing_key_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match=r"Cannot read audit private key file .*nope\.key"):
        load_audit_private_key(tmp_path / "nope.key")


def test_a_private_key_given_as_the_public_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.pub"
    path.write_bytes(private_forms()["pem"])
    with pytest.raises(AuditKeyError, match="holds a private key; pass its public half"):
        load_audit_public_key(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "is not JSON"),
        ("[]", "'kind' is not"),
        ('{"kind": "conveyor.audit.checkpoint", "seq": -1}', "'seq' is not a whole number"),
        ('{"kind": "conveyor.audit.checkpoint", "seq": true}', "'seq' is not a whole number"),
    ],
)
def test_a_malformed_anchor_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "anchor.json"
    path.write_text(content)
    with pytest.raises(CheckpointFileError, match=message) as caught:
        read_checkpoint_file(path)
    assert str(path) in caught.value.message
    assert caught.value.hint is not None


def test_an_anchor_with_a_bad_hash_or_time_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "anchor.json"
    good = sign_checkpoint(KEY, 1, "b" * 64, utcnow()).to_dict()
    for field, value, message in [("hash", "xyz", "'hash' is not"), ("at", "soon", "'at' is not")]:
        path.write_text(json.dumps({**good, field: value}))
        with pytest.raises(CheckpointFileError, match=message):
            read_checkpoint_file(path)


def test_writing_an_anchor_into_a_missing_folder_names_it(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "anchor.json"
    with pytest.raises(CheckpointFileError, match="Cannot write the audit checkpoint file"):
        write_checkpoint_file(target, sign_checkpoint(KEY, 1, "b" * 64, utcnow()))
