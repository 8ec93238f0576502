"""Fixtures: a project with environments and registered versions, a controller on a
virtual clock with a scripted analyzer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_support import Clock, ScriptedAnalyzer, open_project, register

from conveyor.rollout import Controller
from conveyor.workspace import Workspace


@pytest.fixture(scope="session")
def model_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with churn@1..4 registered once per session (registration is the slow part)."""
    root = tmp_path_factory.mktemp("deploy-project")
    ws = open_project(root)
    try:
        for seed in range(4):
            register(ws, seed=seed)
    finally:
        ws.close()
    return root


@pytest.fixture
def ws(model_project: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh copy of the module's project (the database and artifacts included)."""
    import shutil

    root = tmp_path / "project"
    shutil.copytree(model_project, root)
    workspace = Workspace.open(root, actor="alice", env={}, search_parents=False)
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def analyzer() -> ScriptedAnalyzer:
    return ScriptedAnalyzer()


@pytest.fixture
def controller(ws: Workspace, clock: Clock, analyzer: ScriptedAnalyzer) -> Controller:
    return Controller(ws, clock=clock, analyzer=analyzer)
