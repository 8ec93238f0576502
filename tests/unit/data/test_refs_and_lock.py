"""Dataset references and conveyor.lock parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.data import DatasetRef, LockFile, parse_dataset_ref
from conveyor.errors import InvalidNameError, InvalidVersionError, LockFileError

HASH = "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orders", DatasetRef("orders", None)),
        ("orders@latest", DatasetRef("orders", None)),
        ("orders@3", DatasetRef("orders", 3)),
        ("orders@v12", DatasetRef("orders", 12)),
    ],
)
def test_parse_dataset_ref_accepts_name_version_and_latest(text: str, expected: DatasetRef) -> None:
    assert parse_dataset_ref(text) == expected


def test_explicit_version_overrides_the_one_in_the_reference() -> None:
    assert parse_dataset_ref("orders@3", 5) == DatasetRef("orders", 5)
    assert parse_dataset_ref("orders@3", "latest") == DatasetRef("orders", None)


@pytest.mark.parametrize("text", ["orders@x", "orders@-1", "../etc@1", "a/b@2", ""])
def test_parse_dataset_ref_rejects_bad_names_and_versions(text: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_dataset_ref(text)


@pytest.mark.parametrize("text", ["orders@0", "orders@12345678901234567890"])
def test_parse_dataset_ref_rejects_versions_no_store_can_hold(text: str) -> None:
    with pytest.raises(InvalidVersionError, match=r"from 1 to \d+"):
        parse_dataset_ref(text)


def test_ref_string_form_round_trips() -> None:
    assert str(DatasetRef("orders", 3)) == "orders@3"
    assert parse_dataset_ref(str(DatasetRef("orders"))) == DatasetRef("orders")


def test_missing_lock_file_is_an_empty_lock(tmp_path: Path) -> None:
    assert LockFile.load(tmp_path).entries == {}


def test_lock_file_round_trips_and_is_written_atomically(tmp_path: Path) -> None:
    lock = LockFile.load(tmp_path)
    lock.pin("orders", 3, HASH)
    lock.save()
    assert LockFile.load(tmp_path).get("orders") == (3, HASH)
    assert [p.name for p in tmp_path.iterdir()] == ["conveyor.lock"]  # no temp file left
    data = json.loads((tmp_path / "conveyor.lock").read_text())
    assert data == {"format": 1, "datasets": {"orders": {"version": 3, "content_hash": HASH}}}


def test_lock_file_with_broken_json_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "conveyor.lock").write_text('{\n  "format": 1,\n  "datasets": {,\n}\n')
    with pytest.raises(LockFileError, match=r"line 3") as info:
        LockFile.load(tmp_path)
    assert info.value.fields["line"] == 3
    assert "git" in (info.value.hint or "")
    assert "conveyor data add" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"version": "3", "content_hash": HASH}, "datasets.orders.version"),
        ({"version": 0, "content_hash": HASH}, "datasets.orders.version"),
        ({"version": 3, "content_hash": "nothex"}, "datasets.orders.content_hash"),
        ({"version": 3}, "datasets.orders.content_hash"),
        ([3, HASH], "datasets.orders"),
    ],
)
def test_lock_file_with_a_bad_entry_names_the_key(tmp_path: Path, entry: object, key: str) -> None:
    text = json.dumps({"format": 1, "datasets": {"orders": entry}})
    (tmp_path / "conveyor.lock").write_text(text)
    with pytest.raises(LockFileError, match=key.replace(".", r"\.")):
        LockFile.load(tmp_path)


def test_lock_file_rejects_unknown_format_and_bad_dataset_names(tmp_path: Path) -> None:
    (tmp_path / "conveyor.lock").write_text(json.dumps({"format": 9, "datasets": {}}))
    with pytest.raises(LockFileError, match="'format' must be 1"):
        LockFile.load(tmp_path)
    bad = {"format": 1, "datasets": {"../x": {"version": 1, "content_hash": HASH}}}
    (tmp_path / "conveyor.lock").write_text(json.dumps(bad))
    with pytest.raises(LockFileError, match="not a valid dataset name"):
        LockFile.load(tmp_path)
