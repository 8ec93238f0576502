"""add, push and pull report progress in bytes over the whole transfer."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from data_workspace import Workspace

from conveyor.artifacts import open_artifact_store


def _events(stage: str, log: list[tuple[str, int, int]]) -> list[tuple[int, int]]:
    return [(done, total) for name, done, total in log if name == stage]


def test_add_push_and_pull_report_bytes(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    origin = make_workspace("origin")
    folder = tmp_path / "blobs"
    folder.mkdir()
    sizes = [3_000_000, 1_500_000, 10]
    for n, size in enumerate(sizes):
        (folder / f"part{n}.bin").write_bytes(bytes([n + 1]) * size)
    log: list[tuple[str, int, int]] = []
    origin.registry.add("blobs", folder, progress=lambda *event: log.append(event))
    uploading = _events("Uploading", log)
    assert uploading[-1] == (sum(sizes), sum(sizes))
    assert [done for done, _ in uploading] == sorted(done for done, _ in uploading)

    remote = open_artifact_store(str(tmp_path / "remote"))
    log.clear()
    origin.registry.push(remote, progress=lambda *event: log.append(event))
    assert _events("Pushing blobs@1", log)[-1] == (sum(sizes), sum(sizes))

    clone = make_workspace("clone")
    shutil.copy(origin.root / "conveyor.lock", clone.root / "conveyor.lock")
    log.clear()
    clone.registry.pull(remote, progress=lambda *event: log.append(event))
    pulling = _events("Pulling blobs@1", log)
    assert pulling[-1] == (sum(sizes), sum(sizes))
    assert all(total == sum(sizes) for _, total in pulling)
