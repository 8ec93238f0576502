"""Test support for the Kubernetes exports: a project whose two environments are deployed
for real (staging: a canary of churn@2 under way at 10 %; production: churn@1, replace)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from conveyor.rollout import Controller
from conveyor.workspace import Workspace

CONFIG = """\
project: {name: shop}
pipelines: {training: "pipelines:training"}
environments:
  staging: {strategy: canary, steps: [10, 50, 100]}
  production: {strategy: replace}
  empty: {strategy: replace}
monitoring: {window: 1d}
kubernetes: {namespace: ml, spot: true}
"""
IMAGE = "registry.example.com/conveyor-shop:3"


def _register(ws: Workspace, seed: int) -> str:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 60), "spend": rng.uniform(0, 100, 60)})
    model = LogisticRegression().fit(frame, (frame["spend"] > 50).astype(int))
    version = ws.models.register(
        "churn", model, input_example=frame.head(3), explain=False, onnx=False
    )
    return version.ref


def build_project(root: Path, config: str = CONFIG) -> Path:
    """Create the project at ``root``: churn@1 and @2, both environments deployed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "conveyor.yaml").write_text(config, encoding="utf-8")
    with Workspace.open(root, actor="alice", env={}, search_parents=False) as ws:
        first, second = _register(ws, 0), _register(ws, 1)
        controller = Controller(ws)
        controller.deploy(first, "production")
        controller.deploy(first, "staging")
        controller.deploy(second, "staging")
    return root


def copy_project(source: Path, target: Path, config: str | None = None) -> Path:
    """A copy of a built project (database and artifacts), optionally with another config."""
    shutil.copytree(source, target)
    if config is not None:
        (target / "conveyor.yaml").write_text(config, encoding="utf-8")
    return target


def open_ws(root: Path) -> Workspace:
    """The project's workspace, reading no CONVEYOR_* variable of the test process."""
    return Workspace.open(root, actor="alice", env={}, search_parents=False)
