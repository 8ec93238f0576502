"""The environment read from a cache file while installed packages stay put; one git call."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from conveyor.tracking import capture_code_version
from conveyor.tracking._capture import _cached_environment, _read_environment
from git_support import git


def _fresh() -> dict[str, object]:
    """The environment read now (``capture_environment`` keeps its first value per process,
    which may predate another test's change of ``sys.path``)."""
    return _read_environment()


def test_the_cached_environment_is_reused_until_a_path_folder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packages = tmp_path / "site"
    packages.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(packages)])
    state = tmp_path / "state"
    state.mkdir()
    first = _cached_environment(state)
    assert first == _fresh()  # the same fields and hash as a fresh read
    saved = json.loads((state / "environment.json").read_text())
    saved["environment"]["packages_hash"] = "from-the-file"
    (state / "environment.json").write_text(json.dumps(saved))
    assert _cached_environment(state)["packages_hash"] == "from-the-file"
    installed = packages / "newpkg-1.0.dist-info"  # an install changes the folder
    installed.mkdir()
    (installed / "METADATA").write_text("Metadata-Version: 2.1\nName: newpkg\nVersion: 1.0\n")
    stat = packages.stat()
    os.utime(packages, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = _cached_environment(state)
    assert again == _read_environment()
    assert again["packages_hash"] not in (first["packages_hash"], "from-the-file")


def test_without_a_cache_folder_nothing_is_written(tmp_path: Path) -> None:
    assert _cached_environment(tmp_path / "missing") == _fresh()
    assert not (tmp_path / "missing").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_repository_without_commits_or_with_untracked_files_only(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    assert capture_code_version(tmp_path) is None  # no commit yet
    git(tmp_path, "add", "a.py")
    git(tmp_path, "commit", "-q", "-m", "first")
    (tmp_path / "notes.txt").write_text("draft\n")
    captured = capture_code_version(tmp_path)
    assert captured is not None
    assert (captured["dirty"], captured["diff_hash"]) == (True, None)
    (tmp_path / "a.py").write_text("x = 2\n")
    changed = capture_code_version(tmp_path)
    assert changed is not None
    assert changed["diff_hash"] is not None
    assert changed["commit"] == captured["commit"]
