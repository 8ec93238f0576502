"""A large file of unknown hash is read once: copied, then named by the hash of the copy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conveyor.artifacts import _linking as linking_module
from conveyor.artifacts import _store as store_module
from conveyor.artifacts import open_artifact_store
from conveyor.core import hash_bytes


def _leftovers(root: Path) -> list[Path]:
    return [p for p in (root / "tmp").rglob("*") if p.is_file()] if (root / "tmp").exists() else []


def test_the_source_is_not_hashed_before_it_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(3 * 1024 * 1024) + b"tail"
    source = tmp_path / "big.bin"
    source.write_bytes(payload)
    hashed: list[Path] = []
    original = store_module.hash_file_bounded

    def spy(path: str | os.PathLike[str]) -> str:
        hashed.append(Path(path))
        return original(path)

    monkeypatch.setattr(store_module, "hash_file_bounded", spy)
    monkeypatch.setattr(linking_module, "hash_file_bounded", spy)  # where the copy is named
    root = tmp_path / "store"
    store = open_artifact_store(f"file://{root}")
    info = store.put_file(source)
    assert info.hash == hash_bytes(payload)
    assert source not in hashed
    assert store.get_bytes(info.hash) == payload
    # Content already stored: the copy is dropped, nothing is left in the temp folder.
    again = store.put_file(source)
    assert again.hash == info.hash
    assert _leftovers(root) == []


def test_content_starting_like_an_escaped_object_round_trips(tmp_path: Path) -> None:
    from conveyor.artifacts._crypto import ESCAPE

    payload = ESCAPE + os.urandom(3 * 1024 * 1024)
    source = tmp_path / "tricky.bin"
    source.write_bytes(payload)
    store = open_artifact_store(f"file://{tmp_path / 'store'}")
    info = store.put_file(source)
    assert (info.hash, info.size) == (hash_bytes(payload), len(payload))
    assert store.get_bytes(info.hash) == payload


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024, 1024 * 1024 + 1, 5 * 1024 * 1024])
def test_bounded_hashing_matches_hashing_the_bytes(tmp_path: Path, size: int) -> None:
    from conveyor.artifacts._hashing import hash_file_bounded

    payload = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(payload)
    assert hash_file_bounded(path) == hash_bytes(payload)
