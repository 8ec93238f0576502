"""Fixtures for pipeline tests: a project in a temporary folder and its workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_project import Project

from conveyor.workspace import Workspace, init_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """An initialised project in a temporary folder."""
    root = tmp_path / "proj"
    init_project(root, name="proj")
    return Project(root)


@pytest.fixture
def ws(project: Project) -> Iterator[Workspace]:
    """The project's workspace, closed after the test."""
    with project.open() as workspace:
        yield workspace
