"""No-op retraining is recognised: drift without new data registers and deploys nothing."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from automation_support import (
    Clock,
    Reports,
    counts,
    make_agent,
    make_project,
    points,
    records_deployer,
)
from sklearn.linear_model import LogisticRegression

from conveyor.automation._unchanged import reproduced
from conveyor.ci import run_ci
from conveyor.workspace import Workspace

DRIFT = "  - {name: drifted, kind: drift, model: clf, env: production, cooldown_s: 60}"


def _serve_first_version(ws: Workspace) -> None:
    """Train clf@1 on points@1 and make it serve production (what a first rollout does)."""
    result = run_ci(ws, report_dir=ws.root / "reports", integration=False)
    records_deployer(ws)(result.model_version.ref, "production")


def test_drift_without_new_data_records_no_change_and_registers_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", triggers=DRIFT)
    clock, reports = Clock(), Reports()
    with Workspace.open(root) as ws:
        _serve_first_version(ws)
        agent = make_agent(
            ws, clock=clock, reports=reports, trainer=partial(run_ci, integration=False)
        )
        agent.run_once()  # arms the trigger
        reports.latest["production"] = {"id": "r1", "verdict": "drift", "drift_share": 0.6}
        tick = agent.run_once()
        assert tick.fired == ("drifted",)
        outcome = tick.outcomes[0]
        assert outcome.details["result"] == "no_change"
        assert outcome.reason.startswith("no change: clf@1 serving production was trained on ")
        assert "points@1" in outcome.reason
        assert "a new version of points" in outcome.reason
        assert "labelled traffic" in outcome.reason
        assert counts(ws) == {"runs": 1, "versions": 1, "deployments": 1}
        assert [e.kind for e in agent.events()][-2:] == ["trigger", "outcome"]


def test_drift_with_new_data_retrains_and_registers(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", triggers=DRIFT)
    clock, reports = Clock(), Reports()
    with Workspace.open(root) as ws:
        _serve_first_version(ws)
        agent = make_agent(ws, clock=clock, reports=reports)
        agent.run_once()
        ws.datasets.add("points", points(seed=1))
        reports.latest["production"] = {"id": "r2", "verdict": "drift", "drift_share": 0.6}
        tick = agent.run_once()
        assert tick.fired == ("drifted",)
        assert tick.outcomes[0].details["result"] == "deployed"
        assert counts(ws)["versions"] == 2
        assert [e.kind for e in agent.events()][-5:] == [
            "run",
            "register",
            "gate",
            "deploy",
            "outcome",
        ]


def test_a_retrained_model_identical_to_the_serving_one_is_recognised(tmp_path: Path) -> None:
    """Same artifact as the serving version: not deployed; another model: deployed."""
    root = make_project(tmp_path / "proj", triggers=DRIFT)
    with Workspace.open(root) as ws:
        frame = points()
        features = frame.drop(columns=["y"])
        model = LogisticRegression().fit(features, frame["y"])
        # Pickles of one object are byte-identical; skops archives of it are not (yet).
        same = {"input_example": features.head(5), "flavor": "pickle", "trusted": True}
        serving = ws.models.register("clf", model, **same)
        again = ws.models.register("clf", model, **same)
        other = LogisticRegression(C=0.01).fit(features, frame["y"])
        different = ws.models.register("clf", other, **same)
        records_deployer(ws)(serving.ref, "production")
        trigger = ws.settings.config.triggers[0]
        reason = reproduced(ws, trigger, again.ref)
        assert reason is not None
        assert reason.startswith(
            f"no change: retraining reproduced {serving.ref} serving production"
        )
        assert f"{again.ref} is registered but not deployed" in reason
        assert reproduced(ws, trigger, different.ref) is None
