"""gc running while ``data add`` deduplicates onto old unreferenced objects keeps every
recorded version restorable."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

from data_workspace import Workspace

from conveyor.core import hash_bytes

ROUNDS = 40
_OLD = 2 * 3600  # seconds: older than gc's grace, so an unreferenced object is removable


def _plant_old_object(ws: Workspace, data: bytes) -> str:
    """An object no record references, last written two hours ago (a leftover)."""
    digest = ws.artifacts.put_bytes(data).hash
    path = ws.root / ".conveyor" / "artifacts" / "objects" / digest[:2] / digest[2:]
    old = path.stat().st_mtime - _OLD
    os.utime(path, (old, old))
    return digest


def test_gc_racing_dedup_adds_never_deletes_a_recorded_object(
    ws: Workspace, tmp_path: Path
) -> None:
    sources = []
    for i in range(ROUNDS):
        data = f"payload {i}\n".encode() * (i + 1)
        source = tmp_path / "src" / f"file{i}.bin"
        source.parent.mkdir(exist_ok=True)
        source.write_bytes(data)
        assert _plant_old_object(ws, data) == hash_bytes(data)
        sources.append(source)
    stop = threading.Event()
    removed: list[str] = []
    failures: list[BaseException] = []

    def collect() -> None:
        try:
            while not stop.is_set():
                # As `conveyor gc` does: the live set is read first, then the sweep.
                live = ws.store.referenced_hashes()
                removed.extend(ws.artifacts.gc(live, grace=timedelta(minutes=10)).removed)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    collector = threading.Thread(target=collect)
    collector.start()
    try:
        versions = [ws.registry.add(f"ds{i}", source) for i, source in enumerate(sources)]
    finally:
        stop.set()
        collector.join(timeout=60)
    assert not failures
    assert not collector.is_alive()
    for version, source in zip(versions, sources, strict=True):
        out = ws.registry.checkout(version.ref, tmp_path / "out" / f"{version.name}.bin")
        assert out.read_bytes() == source.read_bytes()
    # Leftovers nobody recorded still go: gc is not simply turned off.
    orphan = _plant_old_object(ws, b"never recorded")
    assert orphan in ws.artifacts.gc(ws.store.referenced_hashes()).removed


def test_gc_restores_objects_an_interrupted_gc_moved_aside(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "kept.bin"
    source.write_bytes(b"recorded bytes")
    version = ws.registry.add("kept", source)
    digest = ws.registry.manifest(version)["files"]["kept.bin"]["hash"]
    objects = ws.root / ".conveyor" / "artifacts"
    path = objects / "objects" / digest[:2] / digest[2:]
    trash = objects / "tmp" / f"{digest}.0123abcd.trash"
    trash.parent.mkdir(exist_ok=True)
    path.rename(trash)  # where a gc killed between its two phases leaves it
    ws.artifacts.gc(ws.store.referenced_hashes())
    assert path.read_bytes() == b"recorded bytes"
    assert not trash.exists()
