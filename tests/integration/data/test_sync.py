"""push/pull through a remote artifact store, and restoring a fresh clone from the lock."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from data_workspace import Workspace

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.errors import ArtifactNotFoundError, LockFileError


def _populate(ws: Workspace, tmp_path: Path) -> dict[str, bytes]:
    """Three table versions and two folder versions; returns the pinned folder's bytes."""
    for n in (2, 3, 4):
        ws.registry.add("orders", pd.DataFrame({"id": range(n), "v": [float(i) for i in range(n)]}))
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG-a")
    (folder / "old.png").write_bytes(b"only in version 1")
    ws.registry.add("images", folder)
    (folder / "old.png").unlink()
    (folder / "sub").mkdir()
    (folder / "sub" / "b.png").write_bytes(b"\x89PNG-b" * 1000)
    ws.registry.add("images", folder)
    return {"a.png": b"\x89PNG-a", "sub/b.png": b"\x89PNG-b" * 1000}


def _clone(origin: Workspace, make_workspace: Callable[..., Workspace], name: str) -> Workspace:
    clone = make_workspace(name)
    shutil.copy(origin.root / "conveyor.lock", clone.root / "conveyor.lock")
    return clone


def _round_trip(
    origin: Workspace, clone: Workspace, remote: ArtifactStore, files: dict[str, bytes]
) -> None:
    pushed = origin.registry.push(remote)
    assert sorted(pushed.datasets) == ["images@2", "orders@3"]
    assert pushed.manifests_uploaded == 5
    assert origin.registry.push(remote).objects_uploaded == 0  # idempotent

    pulled = clone.registry.pull(remote)
    assert sorted(pulled.datasets) == ["images@2", "orders@3"]
    assert sorted(pulled.versions_recorded) == [
        "images@1",
        "images@2",
        "orders@1",
        "orders@2",
        "orders@3",
    ]
    for name in ("orders", "images"):
        assert [(v.version, v.content_hash) for v in clone.registry.log(name)] == [
            (v.version, v.content_hash) for v in origin.registry.log(name)
        ]
    out = clone.registry.checkout("images@2", clone.root / "restored")
    assert {
        p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
    } == (files)
    pd.testing.assert_frame_equal(clone.registry.load("orders"), origin.registry.load("orders@3"))
    # A second pull finds everything present and records nothing.
    assert clone.registry.pull(remote).versions_recorded == []
    assert [e.action for e in clone.store.audit_log(action="data.pull")] == ["data.pull"] * 2


def test_push_then_pull_into_a_fresh_workspace_restores_pinned_bytes_and_versions(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    origin = make_workspace("origin")
    files = _populate(origin, tmp_path)
    remote = open_artifact_store(str(tmp_path / "remote"))
    _round_trip(origin, _clone(origin, make_workspace, "clone"), remote, files)


def test_push_and_pull_through_s3(
    make_workspace: Callable[..., Workspace],
    tmp_path: Path,
    s3_bucket: tuple[str, dict[str, object]],
) -> None:
    url, options = s3_bucket
    origin = make_workspace("origin")
    files = _populate(origin, tmp_path)
    remote = open_artifact_store(url, storage_options=options)
    _round_trip(origin, _clone(origin, make_workspace, "clone"), remote, files)


def test_versions_without_pushed_bytes_get_records_but_checkout_says_to_pull(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    origin = make_workspace("origin")
    _populate(origin, tmp_path)
    remote = open_artifact_store(str(tmp_path / "remote"))
    origin.registry.push(remote)
    clone = _clone(origin, make_workspace, "clone")
    clone.registry.pull(remote)
    assert clone.registry.get("images@1").file_count == 2
    with pytest.raises(ArtifactNotFoundError, match="not present locally") as info:
        clone.registry.checkout("images@1", clone.root / "old")
    assert "conveyor data pull" in (info.value.hint or "")
    assert not (clone.root / "old").exists()


def test_pull_of_a_manifest_missing_on_the_remote_names_dataset_version_and_url(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    origin = make_workspace("origin")
    origin.registry.add("orders", pd.DataFrame({"x": [1]}))
    remote = open_artifact_store(str(tmp_path / "empty-remote"))
    clone = _clone(origin, make_workspace, "clone")
    with pytest.raises(LockFileError, match=r"orders@1 .*empty-remote") as info:
        clone.registry.pull(remote)
    assert info.value.fields["url"] == remote.url
    assert "push" in (info.value.hint or "")


def test_pull_refuses_a_local_history_that_diverges_from_the_lock(
    make_workspace: Callable[..., Workspace], tmp_path: Path
) -> None:
    origin = make_workspace("origin")
    origin.registry.add("orders", pd.DataFrame({"x": [1]}))
    remote = open_artifact_store(str(tmp_path / "remote"))
    origin.registry.push(remote)
    other = make_workspace("other")
    other.registry.add("orders", pd.DataFrame({"x": [2]}))
    shutil.copy(origin.root / "conveyor.lock", other.root / "conveyor.lock")
    with pytest.raises(LockFileError, match="different versions under the same number"):
        other.registry.pull(remote)
