"""Small files are stored from one read: hashed in memory, written once, renamed into place.

Inside a batch (``deferred_sync``) each folder of the store is checked for links once;
the object path itself is checked before every write. Hostile layouts come first.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import sklearn.datasets

from conveyor.artifacts import ArtifactStore, hash_file_bounded, open_artifact_store
from conveyor.artifacts._crypto import ESCAPE
from conveyor.core import hash_bytes
from conveyor.errors import IntegrityError

SKLEARN_DATA = Path(sklearn.datasets.__file__).parent


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def store(root: Path) -> ArtifactStore:
    return open_artifact_store(str(root))


def _object(root: Path, digest: str) -> Path:
    return root / "objects" / digest[:2] / digest[2:]


def _temp_files(root: Path) -> list[Path]:
    tmp = root / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def _small(tmp_path: Path, name: str, data: bytes) -> tuple[Path, str]:
    path = tmp_path / name
    path.write_bytes(data)
    return path, hash_bytes(data)


def test_a_linked_shard_folder_is_refused_inside_a_batch(
    store: ArtifactStore, root: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    source, digest = _small(tmp_path, "a.txt", b"small content\n")
    shard = root / "objects" / digest[:2]
    shard.parent.mkdir(parents=True)
    shard.symlink_to(elsewhere, target_is_directory=True)
    with store.deferred_sync(), pytest.raises(IntegrityError, match="symbolic link"):
        store.put_file(source, known_hash=digest)
    assert list(elsewhere.iterdir()) == []
    assert _temp_files(root) == []


def test_a_linked_tmp_folder_is_refused_inside_a_batch(
    store: ArtifactStore, root: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root.mkdir(parents=True, exist_ok=True)
    if (root / "tmp").exists():
        (root / "tmp").rmdir()
    (root / "tmp").symlink_to(elsewhere, target_is_directory=True)
    source, digest = _small(tmp_path, "a.txt", b"small content\n")
    with store.deferred_sync(), pytest.raises(IntegrityError, match="symbolic link"):
        store.put_file(source, known_hash=digest)
    assert list(elsewhere.iterdir()) == []


def test_the_object_path_is_checked_before_every_write_of_a_batch(
    store: ArtifactStore, root: Path, tmp_path: Path
) -> None:
    # Two contents in the same shard folder: the folder is checked once (first write),
    # but a link planted as the second object is still refused, its target untouched.
    first = b"first\n"
    second = next(
        candidate
        for i in range(100_000)
        if hash_bytes(candidate := f"second {i}\n".encode())[:2] == hash_bytes(first)[:2]
    )
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not the store's")
    with store.deferred_sync():
        source, digest = _small(tmp_path, "first.txt", first)
        assert store.put_file(source, known_hash=digest).hash == digest
        planted = _object(root, hash_bytes(second))
        planted.symlink_to(outside)
        source, digest = _small(tmp_path, "second.txt", second)
        with pytest.raises(IntegrityError, match="symbolic link"):
            store.put_file(source, known_hash=digest)
    assert outside.read_bytes() == b"not the store's"
    assert _temp_files(root) == []


def test_folders_are_checked_again_once_the_batch_is_over(
    store: ArtifactStore, root: Path, tmp_path: Path
) -> None:
    source, digest = _small(tmp_path, "a.txt", b"in the batch\n")
    with store.deferred_sync():
        store.put_file(source, known_hash=digest)
    shard = root / "objects" / digest[:2]
    moved = tmp_path / "moved"
    shard.rename(moved)
    shard.symlink_to(moved, target_is_directory=True)
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.put_bytes(b"in the batch\n")
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.get_bytes(digest)


def test_a_file_that_is_not_its_known_hash_stores_nothing(
    store: ArtifactStore, root: Path, tmp_path: Path
) -> None:
    source, _ = _small(tmp_path, "a.txt", b"the bytes on disk\n")
    claimed = hash_bytes(b"what the scan saw")
    with store.deferred_sync(), pytest.raises(IntegrityError, match="changed"):
        store.put_file(source, known_hash=claimed)
    assert not store.exists(claimed)
    assert not store.exists(hash_bytes(b"the bytes on disk\n"))
    assert _temp_files(root) == []


def test_a_failed_rename_leaves_no_temporary_file(
    store: ArtifactStore, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, digest = _small(tmp_path, "a.txt", b"no place for me\n")

    def refuse(src: str, dst: str) -> None:  # as a full disk or a crossed mount would
        raise OSError(errno.EXDEV, "Invalid cross-device link", dst)

    monkeypatch.setattr(os, "replace", refuse)
    with store.deferred_sync(), pytest.raises(OSError, match="cross-device"):
        store.put_file(source, known_hash=digest)
    monkeypatch.undo()
    assert _temp_files(root) == []
    assert not store.exists(digest)


def test_packaged_files_of_mixed_types_are_stored_byte_for_byte(
    store: ArtifactStore, root: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    shutil.copytree(SKLEARN_DATA / "data", folder / "data")
    shutil.copytree(SKLEARN_DATA / "images", folder / "images")
    shutil.copytree(SKLEARN_DATA / "descr", folder / "descr")
    (folder / "empty.bin").write_bytes(b"")
    (folder / "marker.bin").write_bytes(ESCAPE + b"looks like a raw object header")
    (folder / "limit.bin").write_bytes(os.urandom(1024 * 1024))
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert len(files) > 20
    with store.deferred_sync():
        infos = [store.put_file(path, known_hash=hash_file_bounded(path)) for path in files]
    for path, info in zip(files, infos, strict=True):
        content = path.read_bytes()
        assert info.hash == hash_bytes(content)
        assert info.size == len(content)
        assert not info.encrypted
        stored = _object(root, info.hash)
        assert info.modified is not None
        # The object's mtime when written (a later duplicate renews it: never earlier).
        assert info.modified.timestamp() <= stored.stat().st_mtime + 1e-3
        raw = stored.read_bytes()
        assert raw == (ESCAPE + content if content.startswith(ESCAPE) else content)
        assert store.get_bytes(info.hash) == content
    assert _temp_files(root) == []
    # Stored again: the objects are reused, nothing new is written.
    with store.deferred_sync():
        again = [store.put_file(path) for path in files]
    assert [i.hash for i in again] == [i.hash for i in infos]
    assert _temp_files(root) == []


@pytest.mark.parametrize("size", [0, 1, 4096, 1024 * 1024, 1024 * 1024 + 1])
def test_files_around_the_small_file_limit_hash_and_store_alike(
    store: ArtifactStore, tmp_path: Path, size: int
) -> None:
    content = os.urandom(size)
    source, digest = _small(tmp_path, "f.bin", content)
    assert hash_file_bounded(source) == digest
    assert not store.protect(digest)
    with store.deferred_sync():
        assert store.put_file(source).hash == digest
    assert store.protect(digest)
    assert store.get_bytes(digest) == content


def test_a_missing_source_is_file_not_found(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file(tmp_path / "absent.txt", known_hash=hash_bytes(b"x"))
    with pytest.raises(FileNotFoundError):
        hash_file_bounded(tmp_path / "absent.txt")
