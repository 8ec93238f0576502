"""``data.link: hardlink``: the stored object is a read-only hard link to the workspace
file where that is safe, a copy elsewhere, and a change made anyway is caught on read.

The files are the photographs scikit-learn ships (real JPEG bytes, not tables).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sklearn.datasets
from data_workspace import Workspace, open_workspace

from conveyor.artifacts import MasterKey, open_artifact_store
from conveyor.core import Actor, hash_file
from conveyor.data import DatasetRegistry
from conveyor.errors import ConfigError, IntegrityError

IMAGES = Path(sklearn.datasets.__file__).parent / "images"
SHM = Path("/dev/shm")
NOBODY = 65534


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("china.jpg", "flower.jpg"):
        shutil.copyfile(IMAGES / name, folder / name)
    return folder


def _object(ws: Workspace, digest: str) -> Path:
    return ws.root / ".conveyor" / "artifacts" / "objects" / digest[:2] / digest[2:]


def _writable(path: Path) -> bool:
    return bool(os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture
def linking(tmp_path: Path) -> Iterator[Workspace]:
    ws = open_workspace(tmp_path / "project")
    ws.registry.link = "hardlink"
    yield ws
    ws.store.close()


def test_hardlink_makes_the_object_the_workspace_file_read_only(linking: Workspace) -> None:
    photos = _photos(linking.root / "photos")
    version = linking.registry.add("photos", photos)
    assert version.stats is not None
    assert (version.stats.hardlinked_objects, version.stats.copied_objects) == (2, 0)
    for name in ("china.jpg", "flower.jpg"):
        source = photos / name
        stored = _object(linking, hash_file(source))
        assert os.stat(stored).st_ino == os.stat(source).st_ino
        assert not _writable(source)
    out = linking.root / "restored"
    linking.registry.checkout(version.ref, out)
    assert (out / "china.jpg").read_bytes() == (IMAGES / "china.jpg").read_bytes()


def test_an_unchanged_re_add_after_linking_reads_no_file(linking: Workspace) -> None:
    photos = _photos(linking.root / "photos")
    linking.registry.add("photos", photos)
    again = linking.registry.add("photos", photos)
    assert again.unchanged
    assert again.stats is not None
    assert again.stats.hashed_files == 0


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user may enter, on the same file system as the tests' files."""
    folder = Path(tempfile.mkdtemp(prefix="conveyor-link-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_in_place_edit_of_a_linked_file_fails_for_its_owner(shared_dir: Path) -> None:
    ws = open_workspace(shared_dir / "project")
    try:
        ws.registry.link = "hardlink"
        photos = _photos(shared_dir / "project" / "photos")
        target = photos / "flower.jpg"
        if os.geteuid() == 0:  # root writes anything: the owner is another user
            for path in (shared_dir / "project", photos, target):
                os.chown(path, NOBODY, NOBODY)
            user: int | None = NOBODY
        else:
            user = None
        ws.registry.add("photos", photos)
        edit = subprocess.run(
            ["/bin/sh", "-c", f"printf x >> '{target}'"],
            user=user,
            capture_output=True,
            text=True,
            check=False,
        )
        assert edit.returncode != 0
        assert "Permission denied" in edit.stderr
        assert target.read_bytes() == (IMAGES / "flower.jpg").read_bytes()
    finally:
        ws.store.close()


def test_a_change_bypassing_the_permissions_is_caught_on_read(linking: Workspace) -> None:
    photos = _photos(linking.root / "photos")
    version = linking.registry.add("photos", photos)
    target = photos / "china.jpg"
    digest = hash_file(target)
    target.chmod(0o644)  # what a user (or root) could do anyway
    with target.open("r+b") as handle:  # same size, in place: the object changes too
        handle.seek(1000)
        handle.write(b"tampered")
    dest = linking.root / "restored"
    with pytest.raises(IntegrityError, match=digest):
        linking.registry.checkout(version.ref, dest)
    assert not (dest / "china.jpg").exists()
    with pytest.raises(IntegrityError, match="does not match its hash"):
        linking.artifacts.get_bytes(digest)


def test_a_symlink_source_is_copied_and_its_target_keeps_its_mode(
    linking: Workspace, tmp_path: Path
) -> None:
    real = _photos(tmp_path / "elsewhere") / "china.jpg"
    link = linking.root / "china.jpg"
    link.symlink_to(real)
    version = linking.registry.add("china", link)
    assert version.stats is not None
    assert (version.stats.hardlinked_objects, version.stats.uploaded_objects) == (0, 1)
    stored = _object(linking, hash_file(real))
    assert os.stat(stored).st_ino != os.stat(real).st_ino
    assert _writable(real)


@pytest.fixture
def other_fs_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on another file system than ``tmp_path`` (tmpfs at /dev/shm)."""
    if not SHM.is_dir() or os.stat(SHM).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (tmpfs at /dev/shm) to link across")
    folder = SHM / f"conveyor-link-{os.getpid()}-{tmp_path.name}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_file_on_another_file_system_is_copied(linking: Workspace, other_fs_dir: Path) -> None:
    photos = _photos(other_fs_dir / "photos")
    version = linking.registry.add("photos", photos)
    assert version.stats is not None
    assert version.stats.hardlinked_objects == 0
    assert version.stats.copied_objects + version.stats.reflinked_objects == 2
    assert _writable(photos / "china.jpg")
    stored = _object(linking, hash_file(photos / "china.jpg"))
    assert stored.read_bytes() == (IMAGES / "china.jpg").read_bytes()


def test_an_encrypted_store_never_links(tmp_path: Path) -> None:
    root = tmp_path / "sealed"
    ws = open_workspace(root)
    try:
        sealed = open_artifact_store(
            str(root / ".conveyor" / "sealed"), master_key=MasterKey.generate(), encrypt=True
        )
        registry = DatasetRegistry(
            ws.store, sealed, actor=Actor("tester"), root=root, link="hardlink"
        )
        photos = _photos(root / "photos")
        version = registry.add("photos", photos)
        assert version.stats is not None
        assert (version.stats.hardlinked_objects, version.stats.copied_objects) == (0, 2)
        assert _writable(photos / "china.jpg")
        assert (
            registry.artifacts.get_bytes(hash_file(photos / "china.jpg"))
            == (IMAGES / "china.jpg").read_bytes()
        )
    finally:
        ws.store.close()


def test_a_remote_like_store_never_links(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "project")
    try:
        memory = open_artifact_store(f"memory://link-{os.getpid()}-{tmp_path.name}")
        registry = DatasetRegistry(
            ws.store, memory, actor=Actor("tester"), root=ws.root, link="hardlink"
        )
        photos = _photos(ws.root / "photos")
        version = registry.add("photos", photos)
        assert version.stats is not None
        assert (version.stats.hardlinked_objects, version.stats.copied_objects) == (0, 2)
        assert _writable(photos / "flower.jpg")
    finally:
        ws.store.close()


def test_content_stored_escaped_is_copied_not_linked(linking: Workspace) -> None:
    # Bytes that start like an encrypted object are stored behind a marker: a link
    # would be read back as something else, so such a file is copied.
    path = linking.root / "looks-sealed.bin"
    path.write_bytes(b"\x89CVYENC\n" + (IMAGES / "china.jpg").read_bytes())
    version = linking.registry.add("odd", path)
    assert version.stats is not None
    assert (version.stats.hardlinked_objects, version.stats.copied_objects) == (0, 1)
    assert _writable(path)
    assert linking.artifacts.get_bytes(hash_file(path)) == path.read_bytes()


def test_the_default_and_copy_modes_never_share_the_inode(tmp_path: Path) -> None:
    for mode in ("reflink", "copy"):
        ws = open_workspace(tmp_path / mode)
        try:
            ws.registry.link = mode
            photos = _photos(ws.root / "photos")
            version = ws.registry.add("photos", photos)
            assert version.stats is not None
            assert version.stats.hardlinked_objects == 0
            source = photos / "china.jpg"
            assert os.stat(_object(ws, hash_file(source))).st_ino != os.stat(source).st_ino
            assert _writable(source)
        finally:
            ws.store.close()


def test_an_unknown_link_mode_is_refused_before_any_work(linking: Workspace) -> None:
    photos = _photos(linking.root / "photos")
    with pytest.raises(ConfigError, match="'symlink'"):
        linking.registry.add("photos", photos, link="symlink")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="copy, reflink, hardlink"):
        DatasetRegistry(
            linking.store,
            linking.artifacts,
            actor=Actor("x"),
            root=linking.root,
            link="sym",  # type: ignore[arg-type]
        )
    assert linking.registry.list() == []
    assert _writable(photos / "china.jpg")


@pytest.mark.parametrize("restore_mtime", [False, True])
def test_a_large_file_changed_after_it_was_hashed_is_refused_and_keeps_its_mode(
    linking: Workspace, restore_mtime: bool
) -> None:
    """The facts of the hash (size, times, inode) no longer hold, so the linked file is
    hashed again: the change is caught before anything is published."""
    path = linking.root / "photos.bin"
    photos = (IMAGES / "china.jpg").read_bytes() + (IMAGES / "flower.jpg").read_bytes()
    path.write_bytes(photos * 4)  # beyond 1 MiB: the path that may skip re-hashing
    digest = hash_file(path)
    st = os.stat(path)
    facts = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    with path.open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"changed!")
    if restore_mtime:  # as `touch -r` would: only the change time tells
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(IntegrityError, match="changed while"):
        linking.artifacts.put_file(path, known_hash=digest, link="hardlink", known_stat=facts)
    assert _writable(path)
    assert list(linking.artifacts.iter_objects()) == []
    assert os.stat(path).st_nlink == 1


def test_a_large_file_unchanged_since_it_was_hashed_is_linked(linking: Workspace) -> None:
    path = linking.root / "photos.bin"
    photos = (IMAGES / "china.jpg").read_bytes() + (IMAGES / "flower.jpg").read_bytes()
    path.write_bytes(photos * 4)
    version = linking.registry.add("photos", path)
    assert version.stats is not None
    assert version.stats.hardlinked_objects == 1
    assert os.stat(path).st_nlink == 2
    assert linking.artifacts.get_bytes(hash_file(path)) == photos * 4


def test_a_linked_old_file_is_leased_so_a_concurrent_gc_keeps_it(linking: Workspace) -> None:
    """gc keeps unreferenced objects written within its grace: a linked object carries
    the file's time, so linking sets it to now, as writing a copy would."""
    path = linking.root / "china.jpg"
    shutil.copyfile(IMAGES / "china.jpg", path)
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(path, (two_days_ago, two_days_ago))
    info = linking.artifacts.put_file(path, link="hardlink")
    assert info.stored_by == "hardlinked"
    result = linking.artifacts.gc(set(), grace=timedelta(hours=1))  # not yet recorded
    assert result.removed == []
    assert linking.artifacts.get_bytes(info.hash) == (IMAGES / "china.jpg").read_bytes()
    assert os.stat(path).st_mtime > two_days_ago


def test_content_already_stored_leaves_the_file_as_it_was(linking: Workspace) -> None:
    first = linking.root / "first.jpg"
    second = linking.root / "second.jpg"
    for path in (first, second):
        shutil.copyfile(IMAGES / "flower.jpg", path)
    os.utime(second, (1_000_000_000, 1_000_000_000))
    before = os.stat(second)
    linking.artifacts.put_file(first, link="hardlink")
    info = linking.artifacts.put_file(second, link="hardlink")
    assert info.stored_by is None  # reused: nothing stored
    after = os.stat(second)
    assert (after.st_mode, after.st_mtime_ns, after.st_nlink) == (
        before.st_mode,
        before.st_mtime_ns,
        1,
    )
