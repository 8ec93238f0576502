"""MasterKey: the accepted text forms, where keys come from, and that the key never leaks."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.artifacts import MasterKey
from conveyor.errors import EncryptionKeyError

RAW = bytes(range(32))


@given(st.binary(min_size=32, max_size=32))
def test_every_text_form_parses_back_to_the_same_key(raw: bytes) -> None:
    key = MasterKey(raw)
    for text in (
        key.to_text(),
        key.to_text().upper(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        f"  {key.to_text()}\n",
    ):
        assert MasterKey.parse(text) == key


def test_fingerprint_is_short_stable_and_not_the_key() -> None:
    key = MasterKey(RAW)
    assert len(key.fingerprint) == 16
    assert key.fingerprint == MasterKey(RAW).fingerprint
    assert key.fingerprint not in key.to_text()
    assert MasterKey.generate().fingerprint != key.fingerprint


def test_repr_shows_the_fingerprint_never_the_key() -> None:
    key = MasterKey(RAW)
    assert repr(key) == f"MasterKey(fingerprint={key.fingerprint!r})"
    assert key.to_text() not in repr(key)


@pytest.mark.parametrize(
    "text",
    ["abc", "0" * 63, "z" * 64, base64.b64encode(b"x" * 31).decode(), "0" * 66],
)
def test_malformed_key_text_says_the_expected_form_without_echoing_it(text: str) -> None:
    with pytest.raises(EncryptionKeyError, match="expected 64 hex digits or base64 of 32") as err:
        MasterKey.parse(text)
    assert text not in str(err.value)
    assert "CONVEYOR_MASTER_KEY" in (err.value.hint or "")


def test_wrong_raw_length_is_refused() -> None:
    with pytest.raises(EncryptionKeyError, match="exactly 32 bytes, got 16"):
        MasterKey(b"x" * 16)


def test_from_env_reads_conveyor_master_key() -> None:
    key = MasterKey(RAW)
    assert MasterKey.from_env({"CONVEYOR_MASTER_KEY": key.to_text()}) == key
    assert MasterKey.from_env({"CONVEYOR_MASTER_KEY": "  "}) is None
    assert MasterKey.from_env({}) is None
    with pytest.raises(EncryptionKeyError, match="Malformed CONVEYOR_MASTER_KEY"):
        MasterKey.from_env({"CONVEYOR_MASTER_KEY": "not-a-key"})


def test_from_file_reads_the_key_text(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(MasterKey(RAW).to_text() + "\n")
    assert MasterKey.from_file(path) == MasterKey(RAW)


def test_from_file_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    with pytest.raises(EncryptionKeyError, match=r"Cannot read the master key file .*nope\.key"):
        MasterKey.from_file(missing)


def test_resolve_prefers_the_value_then_the_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    other = MasterKey.generate()
    path.write_text(other.to_text())
    assert MasterKey.resolve(MasterKey(RAW).to_text(), str(path)) == MasterKey(RAW)
    assert MasterKey.resolve(None, str(path)) == other
    assert MasterKey.resolve("", None) is None
    assert MasterKey.resolve(None, None) is None
