"""The artifact-store contract, run on every backend (local, memory, S3; plain and encrypted)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from artifact_backends import Backend, flip_byte

from conveyor.artifacts import ObjectInfo
from conveyor.artifacts._crypto import ESCAPE, MAGIC
from conveyor.core import hash_bytes
from conveyor.errors import ArtifactNotFoundError, IntegrityError, InvalidNameError

MIB = 1024 * 1024
MISSING = "0" * 64


@pytest.mark.parametrize("size", [0, 1, 5 * MIB + 3])
def test_put_bytes_round_trips_under_the_content_hash(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    store = backend.open()
    info = store.put_bytes(data)
    assert info.hash == hash_bytes(data)
    assert info.size == size
    assert info.encrypted is backend.encrypt
    assert store.get_bytes(info.hash) == data
    assert store.info(info.hash) == info


@pytest.mark.parametrize("size", [0, 5 * MIB])
def test_put_file_and_get_file_round_trip(backend: Backend, tmp_path: Path, size: int) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(size))
    store = backend.open()
    seen: list[tuple[str, int, int]] = []
    info = store.put_file(source, progress=lambda *event: seen.append(event))
    assert info.hash == hash_bytes(source.read_bytes())
    assert info.size == size
    assert seen[-1] == ("put source.bin", size, size)
    dest = tmp_path / "out" / "copy.bin"
    store.get_file(info.hash, dest)
    assert dest.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.bin"]


def test_get_file_replaces_an_existing_destination(backend: Backend, tmp_path: Path) -> None:
    store = backend.open()
    info = store.put_bytes(b"new content")
    dest = tmp_path / "model.bin"
    dest.write_bytes(b"old")
    store.get_file(info.hash, dest)
    assert dest.read_bytes() == b"new content"


def test_second_put_reuses_the_object(backend: Backend, tmp_path: Path) -> None:
    store = backend.open()
    first = store.put_bytes(b"same content")
    source = tmp_path / "same.txt"
    source.write_bytes(b"same content")
    again = store.put_bytes(b"same content")
    from_file = store.put_file(source)
    for info in (again, from_file):  # same object; only its modification time may move on
        assert (info.hash, info.size, info.encrypted) == (first.hash, first.size, first.encrypted)
    assert [o.hash for o in store.iter_objects()] == [first.hash]


def test_put_file_with_known_hash_of_stored_object_does_not_read_the_file(
    backend: Backend, tmp_path: Path
) -> None:
    store = backend.open()
    info = store.put_bytes(b"already stored")
    gone = tmp_path / "deleted-since.bin"  # the file does not even exist any more
    assert store.put_file(gone, known_hash=info.hash) == info


def test_put_file_with_wrong_known_hash_publishes_nothing(backend: Backend, tmp_path: Path) -> None:
    store = backend.open()
    source = tmp_path / "data.bin"
    source.write_bytes(b"actual content")
    with pytest.raises(IntegrityError, match=f"expected hash {MISSING}"):
        store.put_file(source, known_hash=MISSING)
    assert list(store.iter_objects()) == []


def test_missing_object_raises_not_found_naming_hash_and_store(backend: Backend) -> None:
    store = backend.open()
    assert not store.exists(MISSING)
    for call in (store.get_bytes, store.info, store.delete):
        with pytest.raises(
            ArtifactNotFoundError,
            match=f"No object {MISSING} in the artifact store {re.escape(store.url)}",
        ):
            call(MISSING)


def test_iter_objects_lists_every_object_sorted_by_hash(backend: Backend) -> None:
    store = backend.open()
    infos = [store.put_bytes(f"object {i}".encode()) for i in range(5)]
    listed = list(store.iter_objects())
    assert [o.hash for o in listed] == sorted(i.hash for i in infos)
    assert {(o.hash, o.size, o.encrypted) for o in listed} == {
        (i.hash, i.size, i.encrypted) for i in infos
    }
    assert all(o.modified is not None for o in listed)


def test_delete_removes_only_that_object(backend: Backend) -> None:
    store = backend.open()
    keep = store.put_bytes(b"keep")
    drop = store.put_bytes(b"drop")
    store.delete(drop.hash)
    assert not store.exists(drop.hash)
    assert store.exists(keep.hash)
    assert [o.hash for o in store.iter_objects()] == [keep.hash]


@pytest.mark.parametrize("where", [0.5, -1])
def test_flipped_stored_byte_raises_integrity_error_and_writes_no_file(
    backend: Backend, tmp_path: Path, where: float
) -> None:
    data = os.urandom(3 * MIB)
    store = backend.open()
    info = store.put_bytes(data)
    stored = len(backend.read_raw(info.hash))
    backend.damage(info.hash, flip_byte(int(stored * where) if where > 0 else int(where)))
    with pytest.raises(
        IntegrityError, match=f"Object {info.hash} in {re.escape(store.url)} is corrupt"
    ):
        store.get_bytes(info.hash)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IntegrityError, match=info.hash) as caught:
        store.get_file(info.hash, out / "dest.bin")
    assert caught.value.fields["url"] == store.url
    assert list(out.iterdir()) == []  # neither the file nor a temporary


def test_truncated_object_raises_integrity_error(backend: Backend) -> None:
    store = backend.open()
    info = store.put_bytes(os.urandom(2 * MIB + 100))
    backend.damage(info.hash, lambda stored: stored[: len(stored) - 100])
    with pytest.raises(IntegrityError, match=info.hash):
        store.get_bytes(info.hash)


BAD_HASHES = ["../etc/passwd", "ABC", "a" * 63, "a" * 63 + "\x00", "A" * 64, "g" * 64, ""]


@pytest.mark.parametrize("bad", BAD_HASHES)
def test_every_operation_rejects_a_malformed_hash(
    backend: Backend, tmp_path: Path, bad: str
) -> None:
    store = backend.open()
    out = tmp_path / "out"
    out.mkdir()
    calls = [
        lambda: store.get_bytes(bad),
        lambda: store.exists(bad),
        lambda: store.info(bad),
        lambda: store.delete(bad),
        lambda: store.get_file(bad, out / "dest"),
        lambda: store.put_file(out / "source", known_hash=bad),
        lambda: store.gc({bad}),
    ]
    for call in calls:
        with pytest.raises(InvalidNameError, match=r"Invalid object hash .*64 lowercase hex"):
            call()
    assert list(out.iterdir()) == []


def test_gc_removes_only_unreferenced_objects_older_than_grace(backend: Backend) -> None:
    store = backend.open()
    live = store.put_bytes(b"referenced")
    dead = store.put_bytes(b"unreferenced")
    grace = backend.make_old(live.hash)
    backend.make_old(dead.hash)

    preview = store.gc({live.hash}, grace=grace, dry_run=True)
    assert (preview.removed, preview.kept, preview.dry_run) == ([dead.hash], 1, True)
    assert store.exists(dead.hash)

    result = store.gc({live.hash}, grace=grace)
    assert (result.removed, result.kept, result.dry_run) == ([dead.hash], 1, False)
    assert result.bytes_freed > 0
    assert not store.exists(dead.hash)
    assert store.get_bytes(live.hash) == b"referenced"


def test_gc_keeps_objects_written_within_the_default_grace(backend: Backend) -> None:
    store = backend.open()
    fresh = store.put_bytes(b"just written, not yet referenced")
    result = store.gc(set())
    assert (result.removed, result.kept) == ([], 1)
    assert store.exists(fresh.hash)


def test_object_info_is_a_frozen_value(backend: Backend) -> None:
    info = backend.open().put_bytes(b"x")
    assert isinstance(info, ObjectInfo)
    with pytest.raises(AttributeError):
        info.size = 2  # type: ignore[misc]


def test_gc_of_a_store_with_nothing_in_it(backend: Backend) -> None:
    result = backend.open().gc(set(), grace=timedelta(0))
    assert (result.removed, result.kept, result.bytes_freed) == ([], 0, 0)


@pytest.mark.parametrize("marker", [MAGIC, ESCAPE], ids=["magic", "escape"])
@pytest.mark.parametrize("how", ["bytes", "file"])
def test_content_that_starts_like_a_stored_header_round_trips(
    backend: Backend, tmp_path: Path, marker: bytes, how: str
) -> None:
    tricky = marker + os.urandom(300)
    source = tmp_path / "tricky.bin"
    source.write_bytes(tricky)
    store = backend.open()
    info = store.put_bytes(tricky) if how == "bytes" else store.put_file(source)
    assert (info.hash, info.size) == (hash_bytes(tricky), len(tricky))
    assert store.get_bytes(info.hash) == tricky
    assert store.info(info.hash) == info
    assert [o.size for o in store.iter_objects()] == [len(tricky)]
    store.get_file(info.hash, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == tricky
    keyless = backend.open(master_key=None, encrypt=False)
    if not backend.encrypt:
        assert keyless.get_bytes(info.hash) == tricky


def test_reusing_an_old_local_object_protects_it_from_gc(tmp_path: Path) -> None:
    """A put that dedupes onto an old, unreferenced object makes it young again, so a gc
    running before the writer records its reference cannot delete it."""
    from conveyor.artifacts import open_artifact_store

    store = open_artifact_store(str(tmp_path / "store"))
    info = store.put_bytes(b"shared content")
    path = next(p for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file())
    os.utime(path, (0, 0))
    assert store.put_bytes(b"shared content").hash == info.hash
    assert store.gc(set()).removed == []
    os.utime(path, (0, 0))
    source = tmp_path / "same.bin"
    source.write_bytes(b"shared content")
    store.put_file(source)
    assert store.gc(set()).removed == []


def test_deferred_sync_batch_publishes_complete_objects(backend: Backend, tmp_path: Path) -> None:
    """Inside a deferred-sync batch objects still round-trip and dedupe; nesting is fine."""
    store = backend.open()
    payloads = [os.urandom(1000 + i) for i in range(20)]
    with store.deferred_sync():
        infos = [store.put_bytes(p) for p in payloads[:10]]
        with store.deferred_sync():
            for i, p in enumerate(payloads[10:]):
                source = tmp_path / f"f{i}.bin"
                source.write_bytes(p)
                infos.append(store.put_file(source))
        assert store.put_bytes(payloads[0]).hash == infos[0].hash
    assert [store.get_bytes(i.hash) for i in infos] == payloads
    assert not list((tmp_path).glob("**/*.part"))
