"""Core helpers: hashing, names, actors, time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from blake3 import blake3
from hypothesis import given
from hypothesis import strategies as st

from conveyor.core import (
    Actor,
    hash_bytes,
    hash_file,
    hash_json,
    is_hash,
    isoformat,
    utcnow,
    validate_name,
)
from conveyor.errors import InvalidNameError


@given(st.binary(max_size=4096))
def test_hash_bytes_is_blake3_hex(data: bytes) -> None:
    assert hash_bytes(data) == blake3(data).hexdigest()
    assert is_hash(hash_bytes(data))


@pytest.mark.parametrize("size", [0, 1, 1024, 9 * 1024 * 1024])
def test_hash_file_matches_hash_bytes_small_and_mmap_paths(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert hash_file(path) == hash_bytes(data)


@given(st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=8))
def test_hash_json_ignores_key_order(value: dict[str, object]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert hash_json(value) == hash_json(reordered)


@pytest.mark.parametrize("name", ["orders", "orders-2024", "a", "A.b_c-1", "x" * 128])
def test_valid_names_pass(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "a/b", "../etc", "a..b", "a\x00b", "a\nb", "-lead", ".hidden", "a b", "x@1", "x" * 129, 3],
)
def test_invalid_names_are_rejected_with_the_value(name: object) -> None:
    with pytest.raises(InvalidNameError, match="Invalid dataset name") as info:
        validate_name(name, kind="dataset name")
    assert info.value.hint


def test_actor_prefers_conveyor_actor_then_os_user() -> None:
    assert Actor.resolve({"CONVEYOR_ACTOR": "ci-bot"}).name == "ci-bot"
    assert Actor.resolve({}).name


def test_isoformat_is_utc_with_z_suffix() -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    assert isoformat(aware) == "2026-01-02T01:04:05.000006Z"
    assert isoformat(datetime(2026, 1, 2)) == "2026-01-02T00:00:00.000000Z"
    assert utcnow().tzinfo is UTC
