"""A small real project for the CI tests: synthetic data, a two-step pipeline, gates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_support import CONFIG, PIPELINES, points

from conveyor.workspace import Workspace, init_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    init_project(root, name="ci-test")
    (root / "pipelines.py").write_text(PIPELINES, encoding="utf-8")
    (root / "conveyor.yaml").write_text(CONFIG, encoding="utf-8")
    with Workspace.open(root) as ws:
        ws.datasets.add("points", points())
    return root


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    with Workspace.open(project) as workspace:
        yield workspace
