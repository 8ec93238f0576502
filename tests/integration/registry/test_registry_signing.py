"""Signatures of model versions on SQLite and PostgreSQL: recorded, audited, checked, and
invalid once the version they cover changes."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from conveyor.errors import IntegrityError, InvalidNameError
from conveyor.registry import (
    AliasNotFoundError,
    ModelRegistry,
    PreparedModel,
    SignatureCheck,
)
from conveyor.store import MetadataStore

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()

Saved = Callable[..., PreparedModel]


def public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@pytest.fixture
def churn(registry: ModelRegistry, make_saved: Saved) -> ModelRegistry:
    registry.record("churn", make_saved(b"one"))
    registry.record("churn", make_saved(b"two"))
    return registry


def test_a_version_signed_by_a_configured_key_is_trusted(
    churn: ModelRegistry, store: MetadataStore
) -> None:
    made = churn.sign("churn@2", KEY, key_name="release")
    check = churn.verify_signatures("churn@2", {"release": public(KEY)})
    assert isinstance(check, SignatureCheck)
    assert check.ref == "churn@2"
    assert check.trusted_keys == ["release"]
    assert check.invalid == []
    assert churn.signatures("churn@2") == [made]
    assert churn.verify_signatures("churn@1", {"release": public(KEY)}).results == ()
    [event] = [e for e in store.audit_log() if e.action == "model.sign"]
    assert event.target == "model:churn@2"
    assert event.details["key_name"] == "release"
    assert event.details["public_key"] == public(KEY)


def test_signatures_follow_an_alias_to_the_exact_version(churn: ModelRegistry) -> None:
    churn.set_alias("churn", 1, "champion")
    signed = churn.sign("churn@champion", KEY, key_name="release")
    assert signed.version == 1
    churn.set_alias("churn", 2, "champion")
    assert churn.verify_signatures("churn@champion", {"release": public(KEY)}).results == ()
    assert churn.verify_signatures("churn@1", {"release": public(KEY)}).trusted


def test_an_unconfigured_or_mismatched_key_is_valid_but_not_trusted(
    churn: ModelRegistry,
) -> None:
    churn.sign("churn@1", OTHER, key_name="laptop")
    churn.sign("churn@1", OTHER, key_name="release")
    check = churn.verify_signatures("churn@1", {"release": public(KEY)})
    assert [(r.key_name, r.valid, r.configured) for r in check.results] == [
        ("laptop", True, False),
        ("release", True, False),
    ]
    assert not check.trusted
    assert "not configured" in check.results[0].reason
    assert "another key" in check.results[1].reason


def test_a_tampered_content_hash_makes_the_signature_invalid(
    churn: ModelRegistry, store: MetadataStore
) -> None:
    churn.sign("churn@2", KEY, key_name="release")
    other = churn.get("churn@1").content_hash  # a real manifest, another model's
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE model_versions SET content_hash = :h WHERE version = 2"), {"h": other}
        )
    check = churn.verify_signatures("churn@2", {"release": public(KEY)})
    assert not check.trusted
    [bad] = check.invalid
    assert bad.key_name == "release"
    assert "no longer matches the statement that was signed" in bad.reason


def test_a_manifest_that_no_longer_reads_makes_the_signature_invalid(
    churn: ModelRegistry, store: MetadataStore
) -> None:
    churn.sign("churn@2", KEY, key_name="release")
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE model_versions SET content_hash = :h WHERE version = 2"), {"h": "f" * 64}
        )
    assert [r.valid for r in churn.verify_signatures("churn@2", {}).results] == [False]


def test_a_forged_signature_record_is_invalid(churn: ModelRegistry, store: MetadataStore) -> None:
    churn.sign("churn@2", KEY, key_name="release")
    forged = base64.b64encode(OTHER.sign(b"something else")).decode()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE model_signatures SET signature = :s"), {"s": forged})
    [bad] = churn.verify_signatures("churn@2", {"release": public(KEY)}).invalid
    assert "does not verify" in bad.reason


def test_a_damaged_version_is_not_signed(churn: ModelRegistry, store: MetadataStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE model_versions SET content_hash = :h WHERE version = 1"), {"h": "f" * 64}
        )
    with pytest.raises(IntegrityError, match="missing from the artifact store"):
        churn.sign("churn@1", KEY, key_name="release")
    assert churn.signatures("churn@1") == []


@pytest.mark.parametrize("name", ["", "a b", "../x", "k" * 200, "x@1", "\x1b[31m"])
def test_a_hostile_key_name_is_refused(churn: ModelRegistry, name: str) -> None:
    with pytest.raises(InvalidNameError, match="signing key name"):
        churn.sign("churn@1", KEY, key_name=name)
    assert churn.signatures("churn@1") == []


def test_an_unknown_ref_is_refused(churn: ModelRegistry) -> None:
    with pytest.raises(AliasNotFoundError):
        churn.sign("churn@gone", KEY, key_name="release")
    with pytest.raises(AliasNotFoundError):
        churn.verify_signatures("churn@gone", {})


def test_the_card_lists_signatures_with_their_validity(churn: ModelRegistry) -> None:
    assert "Not signed." in churn.card("churn@1").markdown
    churn.sign("churn@1", KEY, key_name="release")
    churn.sign("churn@1", OTHER, key_name="laptop")
    card = churn.card("churn@1", public_keys={"release": public(KEY)})
    assert "## Signatures" in card.markdown
    assert f"| release | `{public(KEY)}` | yes |" in card.markdown
    assert "| laptop |" in card.markdown
    assert "not configured" in card.markdown
    assert "Signatures" in card.html
