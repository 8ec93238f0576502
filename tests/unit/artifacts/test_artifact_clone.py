"""Storing a file clones it (copy-on-write reflink) where the file system allows, and
falls back to a kernel copy elsewhere (ext4, tmpfs, across file systems), with the same
verified object either way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.artifacts import open_artifact_store
from conveyor.artifacts._writers import clone_file
from conveyor.core import hash_bytes

SHM = Path("/dev/shm")


@pytest.fixture
def other_fs_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on another file system than ``tmp_path`` (tmpfs at /dev/shm)."""
    if not SHM.is_dir() or os.stat(SHM).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (tmpfs at /dev/shm) to copy across")
    folder = SHM / f"conveyor-clone-{os.getpid()}-{tmp_path.name}"
    folder.mkdir()
    yield folder
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()


def _payload() -> bytes:
    return os.urandom(3 * 1024 * 1024) + b"tail"


def test_a_clone_across_file_systems_is_refused_and_leaves_dest_empty(
    tmp_path: Path, other_fs_dir: Path
) -> None:
    source = other_fs_dir / "data.bin"
    source.write_bytes(_payload())
    dest = tmp_path / "dest.part"
    dest.write_bytes(b"")
    assert clone_file(source, dest) is False
    assert dest.stat().st_size == 0


def test_a_clone_on_one_file_system_is_exact_or_refused(tmp_path: Path) -> None:
    data = _payload()
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    dest = tmp_path / "dest.part"
    dest.write_bytes(b"")
    if clone_file(source, dest):  # Btrfs, XFS...: the blocks are shared
        assert dest.read_bytes() == data
    else:  # ext4, tmpfs...: nothing was written
        assert dest.stat().st_size == 0


def test_put_file_from_another_file_system_stores_the_verified_bytes(
    tmp_path: Path, other_fs_dir: Path
) -> None:
    data = _payload()
    source = other_fs_dir / "data.bin"
    source.write_bytes(data)
    store = open_artifact_store(str(tmp_path / "artifacts"))
    info = store.put_file(source)
    assert info.hash == hash_bytes(data)
    assert info.size == len(data)
    assert store.get_bytes(info.hash) == data
    # The source is untouched and independent of the stored object.
    source.write_bytes(b"changed")
    assert store.get_bytes(info.hash) == data


def test_put_file_on_one_file_system_stores_an_independent_object(tmp_path: Path) -> None:
    data = _payload()
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    store = open_artifact_store(str(tmp_path / "artifacts"))
    info = store.put_file(source, known_hash=hash_bytes(data))
    # Rewriting the source in place must not change the object (a clone is copy on
    # write; a hard link would share the change).
    with source.open("r+b") as fh:
        fh.write(b"X" * 16)
    assert store.get_bytes(info.hash) == data
