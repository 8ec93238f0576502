"""A run records the same code version and environment now that git runs beside the start.

Each recorded code version (read back from the store by a second workspace) is compared
with the git state computed independently, the way conveyor captured it before: the commit
``git rev-parse HEAD`` names, ``dirty`` when ``git status`` lists anything, and the BLAKE3
of ``git diff HEAD`` when that diff is not empty. The repositories are real ones, in the
states a project is found in: clean, edited, with a staged or an untracked file only, on a
detached HEAD, with its refs packed.
"""

from __future__ import annotations

import gc
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.core import Actor, hash_bytes
from conveyor.errors import ConveyorError
from conveyor.store import open_store
from conveyor.tracking import (
    RunTracker,
    SqlRunRecords,
    capture_code_version,
    capture_environment,
)
from conveyor.workspace import Workspace, init_project
from git_support import git, git_repository

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _expected(root: Path) -> dict[str, Any]:
    """The code version as conveyor captured it before: three separate git calls."""
    commit = git(root, "rev-parse", "--verify", "HEAD").decode().strip()
    dirty = bool(git(root, "status", "--porcelain").strip())
    diff = git(root, "diff", "HEAD", "--no-color", "--no-ext-diff")
    return {"commit": commit, "dirty": dirty, "diff_hash": hash_bytes(diff) if diff else None}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project: conveyor files, some code, two commits on a branch."""
    root = tmp_path / "project"
    init_project(root, name="capture")
    code = {
        "train.py": "import conveyor\n\nprint('training')\n",
        "features.py": "COLUMNS = ['a', 'b']\n",
    }
    git_repository(root, code, branch="main")
    (root / "features.py").write_text("COLUMNS = ['a', 'b', 'c']\n")
    git(root, "commit", "-q", "-am", "second")
    with Workspace.open(root, search_parents=False):  # creates .conveyor/ (ignored)
        pass
    return root


def _edited(root: Path) -> None:
    (root / "train.py").write_text("import conveyor\n\nprint('training, edited')\n")


def _staged(root: Path) -> None:
    (root / "model.py").write_text("DEPTH = 3\n")
    git(root, "add", "model.py")


def _untracked(root: Path) -> None:
    (root / "notes.txt").write_text("untracked, not in any diff\n")


def _detached(root: Path) -> None:
    git(root, "checkout", "-q", "--detach", "HEAD~1")


def _packed(root: Path) -> None:
    git(root, "pack-refs", "--all", "--prune")
    assert not (root / ".git" / "refs" / "heads" / "main").exists()


def _detached_packed_edited(root: Path) -> None:
    _packed(root)
    _detached(root)
    _edited(root)
    _untracked(root)


STATES: dict[str, Callable[[Path], None]] = {
    "clean": lambda root: None,
    "edited": _edited,
    "staged-only": _staged,
    "untracked-only": _untracked,
    "detached": _detached,
    "packed-refs": _packed,
    "detached-packed-edited": _detached_packed_edited,
}


@pytest.mark.parametrize("state", list(STATES))
def test_the_recorded_code_version_is_the_git_state_of_the_start(project: Path, state: str) -> None:
    STATES[state](project)
    expected = _expected(project)
    assert expected["dirty"] is (state not in ("clean", "detached", "packed-refs"))
    with Workspace.open(project, search_parents=False) as ws:
        started = ws.runs.start_run("train", kind="pipeline")
        ws.runs.finish_run(started.id, "completed")
    with Workspace.open(project, search_parents=False) as other:
        recorded = other.runs.get(started.id)
    assert started.code_version == expected
    assert recorded.code_version == expected
    assert capture_code_version(project) == expected  # the public function agrees
    assert recorded.environment == capture_environment(project / ".conveyor")


def test_later_starts_see_the_changes_made_between_them(project: Path) -> None:
    seen = []
    with Workspace.open(project, search_parents=False) as ws:
        for change in (
            lambda: None,
            lambda: _edited(project),
            lambda: git(project, "commit", "-q", "-am", "third"),
        ):
            change()
            seen.append(
                (ws.runs.start_run("train", kind="pipeline").code_version, _expected(project))
            )
    assert [recorded for recorded, _ in seen] == [expected for _, expected in seen]
    clean, edited, committed = (expected for _, expected in seen)
    assert (clean["dirty"], edited["dirty"], committed["dirty"]) == (False, True, False)
    assert edited["commit"] == clean["commit"] != committed["commit"]


def test_no_code_version_outside_a_repository_or_before_the_first_commit(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain"
    init_project(plain, name="plain")
    with Workspace.open(plain, search_parents=False) as ws:
        assert ws.runs.start_run("train", kind="pipeline").code_version is None
    git(plain, "init", "-q")
    with Workspace.open(plain, search_parents=False) as ws:
        run = ws.runs.start_run("train", kind="pipeline")
        assert run.code_version is None
        assert run.environment == capture_environment(plain / ".conveyor")


def test_without_git_installed_the_run_starts_without_a_code_version(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(project / "no-programs-here"))
    with Workspace.open(project, search_parents=False) as ws:
        run = ws.runs.start_run("train", kind="pipeline")
    assert run.code_version is None
    assert run.environment is not None


class _BrokenSetUp(SqlRunRecords):
    """Run records whose one-time set-up fails (as a store that cannot be reached would)."""

    def prepare_create(self) -> None:
        raise ConveyorError("The store cannot be prepared.", hint="Check the store.")


def test_a_failed_set_up_reaps_git_and_records_nothing(project: Path) -> None:
    """The error reaches the caller; git is waited for (no process is left behind:
    warnings are errors here, so an unreaped ``Popen`` would fail the test)."""
    with Workspace.open(project, search_parents=False) as ws:
        with open_store(ws.settings.metadata_url) as store:
            records = _BrokenSetUp(store)
            tracker = RunTracker(
                None, ws.artifacts, actor=Actor("t"), root=project, records=records
            )
            with pytest.raises(ConveyorError, match="cannot be prepared"):
                tracker.start_run("train", kind="pipeline")
            gc.collect()
        assert ws.runs.list() == []
