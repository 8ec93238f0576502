"""Sealed metadata fields: round trip, binding to their context, and master-key rotation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.artifacts import MasterKey, open_artifact_store
from conveyor.artifacts._fields import FieldCipher, is_sealed
from conveyor.errors import EncryptionKeyError, IntegrityError

PLANTED = "PLANTED-top-value-7f3a"
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=50)
@given(_json)
def test_any_json_value_round_trips(value: object) -> None:
    cipher = FieldCipher(b"k" * 32)
    sealed = cipher.seal(value, context="dataset:x@1:top")
    assert is_sealed(sealed)
    assert cipher.open(sealed, context="dataset:x@1:top") == value


def test_sealed_values_hide_the_plaintext_and_bind_their_context(tmp_path: Path) -> None:
    store = open_artifact_store(str(tmp_path / "a"), master_key=MasterKey.generate())
    cipher = store.field_cipher()
    sealed = cipher.seal([{"value": PLANTED, "count": 3}], context="dataset:s@1:top")
    assert PLANTED not in sealed
    assert json.dumps(sealed).isascii()
    # The field key persists: a second cipher (another process) opens it.
    assert store.field_cipher().open(sealed, context="dataset:s@1:top")[0]["value"] == PLANTED
    with pytest.raises(IntegrityError, match="'dataset:s@2:top' does not open"):
        cipher.open(sealed, context="dataset:s@2:top")
    altered = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(IntegrityError):
        cipher.open(altered, context="dataset:s@1:top")
    other = open_artifact_store(str(tmp_path / "b"), master_key=MasterKey.generate())
    with pytest.raises(IntegrityError):
        other.field_cipher().open(sealed, context="dataset:s@1:top")
    with pytest.raises(IntegrityError):
        cipher.open("cvyf1:!!not base64!!", context="dataset:s@1:top")


def test_rotation_rewraps_the_field_key_so_sealed_values_still_open(tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    root = str(tmp_path / "a")
    store = open_artifact_store(root, master_key=old, encrypt=True)
    sealed = store.field_cipher().seal(PLANTED, context="c")
    store.rotate_master_key(new)
    assert open_artifact_store(root, master_key=new).field_cipher().open(sealed, context="c") == (
        PLANTED
    )
    with pytest.raises(EncryptionKeyError, match=new.fingerprint):
        open_artifact_store(root, master_key=old).field_cipher()


def test_without_a_master_key_fields_cannot_be_sealed(tmp_path: Path) -> None:
    with pytest.raises(EncryptionKeyError, match="no master key"):
        open_artifact_store(str(tmp_path / "a")).field_cipher()
