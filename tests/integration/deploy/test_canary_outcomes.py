"""Canaries on real data judge outcomes: a better retrained model whose predictions differ
as the gate measured is promoted; a broken one is paused, then rolled back on its labels.

Real registered models, the real gate (champion comparison on a holdout, recorded), the real
controller and deployment records; traffic is drawn from the data sets' rows and routed by
the deployment's weights with the real routing rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.checks import CheckContext, CheckSpec, evaluate_gates, run_checks
from conveyor.deployments import Deployment, choose_variant
from conveyor.rollout import Controller
from conveyor.rollout import _tick as tick
from conveyor.rollout.analysis import VariantStats
from conveyor.workspace import Workspace

CONFIG = """
project: {name: canary-outcomes}
environments:
  regression:
    strategy: canary
    steps: [10, 50, 100]
    min_step_duration_s: 0
    min_requests: 50
    analysis: {metric: mae, min_metric_delta: -5.0, min_labels: 50}
  classification:
    strategy: canary
    steps: [20, 100]
    min_step_duration_s: 0
    min_requests: 50
    analysis: {metric: accuracy, min_labels: 50}
"""


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    (tmp_path / "conveyor.yaml").write_text(CONFIG, encoding="utf-8")
    workspace = Workspace.open(tmp_path, actor="alice", env={}, search_parents=False)
    try:
        yield workspace
    finally:
        workspace.close()


def _register(ws: Workspace, name: str, model: Any, frame: pd.DataFrame) -> str:
    example = frame.head(3)
    return ws.models.register(name, model, input_example=example, explain=False, onnx=False).ref


def _gate(ws: Workspace, candidate: str, champion: str, holdout: pd.DataFrame, metric: str) -> Any:
    margin = 5.0 if metric == "mae" else 0.02
    spec = CheckSpec(
        "champion_comparison", {"metric": metric, "mode": "non_inferiority", "margin": margin}
    )
    with CheckContext(
        ws, candidate=candidate, champion=champion, holdout=holdout, target="target"
    ) as ctx:
        suite = run_checks(ctx, [spec])
    return evaluate_gates(suite, [spec], has_champion=True, workspace=ws)


@dataclass
class Traffic:
    """Requests drawn from ``pool`` rows; answers precomputed by the registered versions."""

    answers: dict[str, np.ndarray[Any, Any]]
    labels: np.ndarray[Any, Any]
    seen: dict[str, tuple[list[Any], list[Any]]] = field(default_factory=dict)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(3))

    def send(self, deployment: Deployment, n: int, *, labelled: bool) -> dict[str, VariantStats]:
        for _ in range(n):
            variant = choose_variant(deployment, None, float(self.rng.random()))
            row = int(self.rng.integers(0, len(self.labels)))
            predictions, truths = self.seen.setdefault(variant.role, ([], []))
            predictions.append(self.answers[variant.ref][row])
            truths.append(self.labels[row] if labelled else None)
        return self.stats()

    def stats(self) -> dict[str, VariantStats]:
        return {
            role: VariantStats(len(p), 0, np.full(len(p), 5.0), np.asarray(p), list(t))
            for role, (p, t) in self.seen.items()
        }


def _answers(ws: Workspace, refs: list[str], frame: pd.DataFrame) -> dict[str, Any]:
    answers = {}
    for ref in refs:
        with ws.models.load(ref) as model:
            answers[ref] = np.asarray(model.predict(frame))
    return answers


def _run(ctl: Controller, env: str, traffic: Traffic, *, rounds: int, labelled: bool) -> Deployment:
    deployment = ctl.status(env)
    assert deployment is not None
    for _ in range(rounds):
        if deployment.state != "progressing":
            break
        stats = traffic.send(deployment, 200, labelled=labelled)
        deployment = ctl.tick(env, stats=stats) or deployment
    return deployment


def test_a_better_retrained_model_that_answers_differently_is_promoted(ws: Workspace) -> None:
    data = load_diabetes(as_frame=True)
    x = data.data
    # The target shifted (a new measurement scale): retraining is meant to change answers.
    shifted = data.target * 1.5 + 60
    champion = _register(ws, "diab", Ridge(alpha=0.1).fit(x[:200], data.target[:200]), x)
    challenger = _register(ws, "diab", Ridge(alpha=0.1).fit(x[200:320], shifted[200:320]), x)
    ctl = Controller(ws)
    ctl.deploy(champion, "regression")
    decision = _gate(ws, challenger, champion, x[320:380].assign(target=shifted[320:380]), "mae")
    assert decision.decision == "PROMOTE", decision.reasons
    assert any("expected prediction divergence from diab@1" in r for r in decision.reasons)

    started = ctl.deploy(challenger, "regression")
    assert started.params["expected_divergence"]["value"] > 0.2  # the old fixed limit
    traffic = Traffic(_answers(ws, [champion, challenger], x[380:]), shifted[380:].to_numpy())
    before_labels = _run(ctl, "regression", traffic, rounds=6, labelled=False)
    history = ws.deployments.history("regression")
    assert before_labels.state == "progressing", before_labels.describe()
    assert not [t for t in history if t.action in ("pause", "rollback")]

    final = _run(ctl, "regression", traffic, rounds=60, labelled=True)
    assert final.state == "promoted", [t.reason for t in ws.deployments.history("regression")]
    assert final.full is not None
    assert final.full.ref == challenger


@pytest.fixture
def cancer(ws: Workspace) -> dict[str, Any]:
    data = load_breast_cancer(as_frame=True)
    x = data.data
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    champion = _register(ws, "cancer", model.fit(x[:300], data.target[:300]), x)
    ctl = Controller(ws)
    ctl.deploy(champion, "classification")
    return {"x": x, "y": data.target.to_numpy(), "champion": champion, "ctl": ctl}


def test_a_constant_model_pauses_for_labels_then_is_rolled_back_on_them(
    ws: Workspace, cancer: dict[str, Any]
) -> None:
    x, y, ctl = cancer["x"], cancer["y"], cancer["ctl"]
    broken = _register(ws, "cancer", DummyClassifier(strategy="constant", constant=0).fit(x, y), x)
    ctl.deploy(broken, "classification", force_reason="hotfix")
    traffic = Traffic(_answers(ws, [cancer["champion"], broken], x[300:]), y[300:])

    paused = _run(ctl, "classification", traffic, rounds=10, labelled=False)
    assert paused.state == "paused"
    last = ws.deployments.history("classification")[-1]
    assert last.action == "pause"
    assert "exceeds the limit 0.2" in last.reason
    assert "waiting for labels" in last.reason
    assert "rollback" not in [t.action for t in ws.deployments.history("classification")]
    # While labels are missing, evaluating again changes nothing.
    assert tick.evaluate(ctl, paused, traffic.stats()).revision == paused.revision

    labelled = Traffic(traffic.answers, traffic.labels, rng=np.random.default_rng(9))
    stats = labelled.send(paused, 600, labelled=True)
    after = tick.evaluate(ctl, paused, stats)
    assert after.state == "rolled_back"
    reason = ws.deployments.history("classification")[-1].reason
    assert reason.startswith("analysis failed on labels (the challenger is worse): accuracy 0.")


def test_a_model_trained_on_shuffled_labels_is_rolled_back_on_labels_not_divergence(
    ws: Workspace, cancer: dict[str, Any]
) -> None:
    x, y, ctl = cancer["x"], cancer["y"], cancer["ctl"]
    shuffled = np.random.default_rng(0).permutation(y[:300])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[:300], shuffled)
    broken = _register(ws, "cancer", model, x)
    ctl.deploy(broken, "classification", force_reason="experiment")
    traffic = Traffic(_answers(ws, [cancer["champion"], broken], x[300:]), y[300:])

    unlabelled = _run(ctl, "classification", traffic, rounds=3, labelled=False)
    assert unlabelled.state == "progressing"  # its answers look like the champion's
    final = _run(ctl, "classification", traffic, rounds=20, labelled=True)
    assert final.state == "rolled_back"
    reason = ws.deployments.history("classification")[-1].reason
    assert "on labels (the challenger is worse)" in reason


def test_resuming_an_analysis_pause_lets_labels_decide(
    ws: Workspace, cancer: dict[str, Any]
) -> None:
    x, y, ctl = cancer["x"], cancer["y"], cancer["ctl"]
    broken = _register(ws, "cancer", DummyClassifier(strategy="constant", constant=0).fit(x, y), x)
    ctl.deploy(broken, "classification", force_reason="hotfix")
    traffic = Traffic(_answers(ws, [cancer["champion"], broken], x[300:]), y[300:])
    paused = _run(ctl, "classification", traffic, rounds=10, labelled=False)
    assert paused.state == "paused"
    resumed = ctl.resume("classification", reason="labels are in")
    stats = Traffic(traffic.answers, traffic.labels).send(resumed, 600, labelled=True)
    final = ctl.tick("classification", stats=stats)
    assert final is not None
    assert final.state == "rolled_back"
