"""``Workspace.open(require_project=True)`` finds the project above and creates nothing
outside one; the default keeps running on defaults for scripts and notebooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.errors import ProjectNotFoundError
from conveyor.workspace import Workspace, init_project


def test_outside_a_project_nothing_is_created(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFoundError, match=r"conveyor\.yaml"):
        Workspace.open(tmp_path, env={}, require_project=True)
    assert list(tmp_path.iterdir()) == []


def test_inside_a_subfolder_the_project_above_is_opened(tmp_path: Path) -> None:
    init_project(tmp_path, name="shop")
    inner = tmp_path / "notebooks" / "eda"
    inner.mkdir(parents=True)
    with Workspace.open(inner, env={}, require_project=True) as ws:
        assert ws.root == tmp_path.resolve()
        assert set(ws.settings.config.environments) == {"staging", "production"}
    assert not (inner / ".conveyor").exists()


def test_without_search_parents_only_the_folder_itself_counts(tmp_path: Path) -> None:
    init_project(tmp_path, name="shop")
    inner = tmp_path / "sub"
    inner.mkdir()
    with pytest.raises(ProjectNotFoundError):
        Workspace.open(inner, env={}, require_project=True, search_parents=False)


def test_the_default_still_runs_on_defaults(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, env={}) as ws:
        assert ws.settings.config_file is None
