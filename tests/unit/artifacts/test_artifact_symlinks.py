"""A symbolic link planted inside a local artifact store is never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.core import hash_bytes
from conveyor.errors import IntegrityError

SECRET = b"outside the store: must never be read or written through the store\n"


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


def _object_path(tmp_path: Path, digest: str) -> Path:
    return tmp_path / "artifacts" / "objects" / digest[:2] / digest[2:]


def test_a_link_planted_as_an_object_is_an_integrity_error_not_a_read_of_its_target(
    store: ArtifactStore, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_bytes(SECRET)
    digest = hash_bytes(SECRET)  # the link even names the right hash
    planted = _object_path(tmp_path, digest)
    planted.parent.mkdir(parents=True)
    planted.symlink_to(outside)
    for read in (
        store.get_bytes,
        store.info,
        lambda h: store.get_file(h, tmp_path / "copy.txt"),
    ):
        with pytest.raises(IntegrityError, match="symbolic link") as info:
            read(digest)
        assert str(planted) in str(info.value)
    assert not (tmp_path / "copy.txt").exists()


def test_a_linked_shard_folder_is_neither_read_nor_written_through(
    store: ArtifactStore, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = b"new content"
    digest = hash_bytes(data)
    shard = tmp_path / "artifacts" / "objects" / digest[:2]
    shard.parent.mkdir(parents=True, exist_ok=True)
    shard.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(IntegrityError, match=r"symbolic link .*elsewhere"):
        store.put_bytes(data)
    assert list(elsewhere.iterdir()) == []
    (elsewhere / digest[2:]).write_bytes(data)
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.get_bytes(digest)
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.protect(digest)


def test_a_linked_tmp_folder_is_not_written_through(store: ArtifactStore, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    tmp = tmp_path / "artifacts" / "tmp"
    if tmp.exists():
        tmp.rmdir()
    tmp.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.put_bytes(b"anything")
    assert list(elsewhere.iterdir()) == []


def test_protect_renews_an_existing_objects_lease_without_following_links(
    store: ArtifactStore, tmp_path: Path
) -> None:
    info = store.put_bytes(b"old object")
    path = _object_path(tmp_path, info.hash)
    os.utime(path, (0, 0))
    assert store.protect(info.hash)
    assert path.stat().st_mtime > 0
    assert not store.protect(hash_bytes(b"never stored"))
