"""Crash safety and concurrent writers, with real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from data_workspace import Workspace

from conveyor.data import LockFile
from conveyor.errors import DatasetNotFoundError

HERE = Path(__file__).parent
WORKER = HERE / "data_worker.py"


def _run(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _big_folder(path: Path, files: int = 60) -> Path:
    for i in range(files):
        (path / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
        (path / f"d{i % 4}" / f"f{i}.bin").write_bytes(os.urandom(16_384))
    return path


class TestProcessesOnEachBackend:
    @pytest.mark.parametrize("stage", ["Hashing files", "Uploading", "Recording version"])
    def test_kill_9_during_add_leaves_no_version_and_the_next_add_gets_version_1(
        self,
        metadata_url: str,
        make_workspace: Callable[..., Workspace],
        tmp_path: Path,
        stage: str,
    ) -> None:
        ws = make_workspace("project", metadata_url)
        folder = _big_folder(tmp_path / "big")
        proc = _run("die", str(ws.root), metadata_url, str(folder), stage)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        with pytest.raises(DatasetNotFoundError):
            ws.registry.get("big")
        assert ws.registry.list() == []
        assert [e.action for e in ws.store.audit_log() if e.action.startswith("data.")] == []
        v = ws.registry.add("big", folder)
        assert (v.version, v.unchanged, v.file_count) == (1, False, 60)
        assert ws.registry.checkout("big", tmp_path / "out").joinpath(
            "d0", "f0.bin"
        ).read_bytes() == ((folder / "d0" / "f0.bin").read_bytes())

    @pytest.mark.slow
    def test_two_processes_adding_to_one_dataset_get_contiguous_versions(
        self, metadata_url: str, make_workspace: Callable[..., Workspace]
    ) -> None:
        ws = make_workspace("project", metadata_url)
        procs = [_run("add", str(ws.root), metadata_url, tag, "4") for tag in ("a", "b")]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
        log = list(reversed(ws.registry.log("shared")))
        assert [v.version for v in log] == list(range(1, 9))
        assert [v.parent_version for v in log] == [None, *range(1, 8)]
        loaded = pd.concat(ws.registry.load(v.ref) for v in log)
        assert sorted(zip(loaded["writer"], loaded["i"], strict=True)) == [
            (w, i) for w in "ab" for i in range(4)
        ]
        for v in log[1:]:
            parent = ws.registry.manifest(v)["parent"]
            assert parent["content_hash"] == log[v.version - 2].content_hash
        pinned = ws.registry.get("shared")
        assert LockFile.load(ws.root).get("shared") == (8, pinned.content_hash)

    def test_add_get_diff_and_unchanged_on_this_backend(
        self, metadata_url: str, make_workspace: Callable[..., Workspace]
    ) -> None:
        ws = make_workspace("project", metadata_url)
        ws.registry.add("t", pd.DataFrame({"x": [1.0, 2.0]}))
        assert ws.registry.add("t", pd.DataFrame({"x": [1.0, 2.0]})).unchanged
        ws.registry.add("t", pd.DataFrame({"x": [1.0, 5.0]}))
        assert ws.registry.diff("t@1", "t@2").stat_changes["x"]["mean"] == {"a": 1.5, "b": 3.0}
        assert ws.registry.get("t").profile == ws.registry.manifest("t@2")["profile"]
        assert [s.latest_version for s in ws.registry.list()] == [2]
