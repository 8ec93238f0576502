"""Code-version capture from git and environment capture."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

import pytest

from conveyor.core import hash_bytes
from conveyor.tracking import capture_code_version, capture_environment
from git_support import git_repository

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def test_clean_and_dirty_repositories_are_told_apart_and_diffs_hashed(tmp_path: Path) -> None:
    head = git_repository(tmp_path, {"train.py": "lr = 0.1\n"})
    assert capture_code_version(tmp_path) == {"commit": head, "dirty": False, "diff_hash": None}
    (tmp_path / "train.py").write_text("lr = 0.2\n")
    first = capture_code_version(tmp_path)
    assert first is not None
    assert first["dirty"] is True
    assert first["commit"] == head
    assert first["diff_hash"] is not None
    assert len(first["diff_hash"]) == 64
    (tmp_path / "train.py").write_text("lr = 0.3\n")
    second = capture_code_version(tmp_path)
    assert second is not None
    assert second["diff_hash"] != first["diff_hash"]
    assert capture_code_version(tmp_path) == second  # same diff, same hash


def test_untracked_file_makes_the_tree_dirty(tmp_path: Path) -> None:
    git_repository(tmp_path, {"a.py": "x = 1\n"})
    (tmp_path / "new.py").write_text("y = 2\n")
    captured = capture_code_version(tmp_path)
    assert captured is not None
    assert captured["dirty"] is True


def test_outside_git_the_code_version_is_none(tmp_path: Path) -> None:
    assert capture_code_version(tmp_path) is None


def test_environment_names_python_and_hashes_packages() -> None:
    env = capture_environment()
    assert env["python"] == platform.python_version()
    assert len(env["packages_hash"]) == 64
    assert env["packages_hash"] != hash_bytes(b"")  # the installed packages were read
    assert capture_environment() is env  # computed once per process
