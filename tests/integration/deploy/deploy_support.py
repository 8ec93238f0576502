"""Test support: a project with environments, small real registered models, a scripted
analyzer and a virtual clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from conveyor.config import AnalysisConfig
from conveyor.workspace import Workspace

CONFIG = """
project: {name: deploy-test}
environments:
  production:
    strategy: canary
    steps: [10, 50, 100]
    min_step_duration_s: 60
    min_requests: 100
  staging: {strategy: replace}
  gated: {strategy: canary, requires_approval: true, steps: [20, 100], min_requests: 0,
          min_step_duration_s: 0}
  experiments: {strategy: ab, split: 30, sticky_key: x-user-id}
"""


def open_project(root: Path) -> Workspace:
    """Open a fresh project declaring the test environments."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "conveyor.yaml").write_text(CONFIG, encoding="utf-8")
    return Workspace.open(root, actor="alice", env={}, search_parents=False)


def register(ws: Workspace, name: str = "churn", *, seed: int = 0) -> int:
    """Register a small logistic regression with an input example; return its version."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.uniform(18, 80, 60), "spend": rng.uniform(0, 100, 60)})
    model = LogisticRegression().fit(frame, (frame["spend"] > 50).astype(int))
    version = ws.models.register(
        name, model, input_example=frame.head(3), explain=False, onnx=False
    )
    return version.version


class Clock:
    """A virtual clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Stats:
    """The statistics the controller reads itself (request counts)."""

    requests: int


@dataclass
class Result:
    verdict: str
    reasons: list[str]
    measures: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScriptedAnalyzer:
    """A real analyzer whose verdict the test sets; records what it was asked."""

    verdict: str = "continue"
    calls: list[tuple[int, int]] = field(default_factory=list)
    stats_calls: list[tuple[str, int, datetime]] = field(default_factory=list)
    log_stats: Mapping[str, Any] = field(default_factory=dict)

    def stats(
        self, ws: Workspace, env: str, revision: int, *, since: datetime
    ) -> Mapping[str, Any]:
        self.stats_calls.append((env, revision, since))
        return self.log_stats

    def analyse(self, champion: Any, challenger: Any, params: AnalysisConfig) -> Result:
        assert isinstance(params, AnalysisConfig)
        self.calls.append((champion.requests, challenger.requests))
        return Result(self.verdict, [f"scripted {self.verdict}"], {"delta": 0.0})


def traffic(champion: int, challenger: int, role: str = "challenger") -> dict[str, Stats]:
    """Cumulative per-role request counts."""
    return {"champion": Stats(champion), role: Stats(challenger)}


class BreaksAfterLoading:
    """Predicts while being registered, raises once loaded back (a broken deployable)."""

    def __init__(self) -> None:
        self.loaded = False

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.loaded = True

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        if self.loaded:
            raise RuntimeError("feature 'age' exploded")
        return np.zeros(len(frame))
