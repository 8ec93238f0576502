"""Rehearsing rollouts with the real controller, router and registered models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.rollout import DeployRefusedError
from conveyor.rollout._simulate import simulate
from conveyor.workspace import Workspace

CONFIG = """
project: {name: simulate-test}
environments:
  production:
    strategy: canary
    steps: [10, 50, 100]
    min_step_duration_s: 5
    min_requests: 50
    analysis: {min_metric_delta: -0.1, min_labels: 50}
"""


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.uniform(18, 80, n), "spend": rng.uniform(0, 100, n)})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("simulate")
    (root / "conveyor.yaml").write_text(CONFIG, encoding="utf-8")
    with Workspace.open(root, actor="alice", env={}, search_parents=False) as ws:
        train = _frame(400, 0)
        good = (train["spend"] > 50).astype(int)
        for target in (good, good, (train["age"] > 50).astype(int)):  # v1, v2 good; v3 bad
            model = LogisticRegression(max_iter=1000).fit(train, target)
            ws.models.register(
                "churn", model, input_example=train.head(3), explain=False, onnx=False
            )
        ws.models.set_alias("churn", 1, "champion")
    return root


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    with Workspace.open(project, actor="alice", env={}, search_parents=False) as workspace:
        yield workspace


@pytest.fixture(scope="module")
def traffic() -> pd.DataFrame:
    frame = _frame(3_000, 7)
    return frame.assign(label=(frame["spend"] > 50).astype(int))


def test_a_good_challenger_is_promoted_step_by_step(ws: Workspace, traffic: pd.DataFrame) -> None:
    report = simulate(ws, "production", traffic, champion="churn@1", challenger="churn@2")
    assert report.outcome == "promoted"
    actions = [event["action"] for event in report.timeline]
    assert actions == ["deploy", "advance", "advance", "promote"]
    assert [e["weights"].get("challenger") for e in report.timeline[:3]] == [10.0, 50.0, 100.0]
    assert report.served["challenger"] > 0
    assert report.served["champion"] > 0


def test_a_bad_challenger_is_rolled_back_and_its_requests_reported(
    ws: Workspace, traffic: pd.DataFrame
) -> None:
    report = simulate(ws, "production", traffic, champion="churn@1", challenger="churn@3")
    assert report.outcome == "rolled_back"
    assert report.timeline[-1]["action"] == "rollback"
    assert "challenger worse" in report.timeline[-1]["reason"]
    assert report.worse_model_requests == report.served["challenger"]
    assert 0 < report.worse_model_requests < 0.2 * sum(report.served.values())
    assert report.metrics["challenger"] < report.metrics["champion"]


def test_rehearsal_leaves_the_workspace_untouched(ws: Workspace, traffic: pd.DataFrame) -> None:
    simulate(ws, "production", traffic, champion="churn@1", challenger="churn@2")
    assert ws.deployments.current("production") is None
    assert ws.models.get("churn@champion").version == 1


def test_same_seed_same_rehearsal(ws: Workspace, traffic: pd.DataFrame) -> None:
    first = simulate(ws, "production", traffic.head(800), champion="churn@1", challenger="churn@3")
    again = simulate(ws, "production", traffic.head(800), champion="churn@1", challenger="churn@3")
    assert first.served == again.served
    assert [e["action"] for e in first.timeline] == [e["action"] for e in again.timeline]


def test_traffic_without_labels_is_refused(ws: Workspace, traffic: pd.DataFrame) -> None:
    with pytest.raises(DeployRefusedError, match="needs rows and a `label` column"):
        simulate(ws, "production", traffic.drop(columns=["label"]), challenger="churn@2")


def test_nothing_to_rehearse_names_both_versions(ws: Workspace, traffic: pd.DataFrame) -> None:
    with pytest.raises(DeployRefusedError, match="Nothing to rehearse in 'production'"):
        simulate(ws, "production", traffic, challenger="churn@2")
