"""The agent on a real project: triggers fire, retrain, gate, deploy, and record lineage."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import typer
from automation_support import Clock, Inbox, counts, make_agent, make_project, points
from typer.testing import CliRunner

from conveyor.automation import AGENT_STEPS, Agent
from conveyor.cli._agent import register
from conveyor.workspace import Workspace


def test_new_data_trigger_retrains_gates_deploys_and_records_the_lineage(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    clock = Clock()
    with Workspace.open(root) as ws:
        agent = make_agent(ws, clock=clock)
        assert agent.run_once().fired == ()  # points@1 existed before: the baseline
        ws.datasets.add("points", points(seed=1))
        tick = agent.run_once()
        assert tick.fired == ("fresh",)
        assert tick.outcomes[0].details["result"] == "deployed"
        chain = agent.events()
        assert [e.kind for e in chain] == [
            "trigger",
            "run",
            "register",
            "gate",
            "deploy",
            "outcome",
        ]
        assert all(child.parent_id == parent.id for parent, child in itertools.pairwise(chain))
        assert chain[0].reason.startswith("new data: points@2")
        assert chain[2].details["ref"] == "clf@1"
        assert chain[4].details["deployment"]["variants"][0]["version"] == 1
        assert counts(ws) == {"runs": 1, "versions": 1, "deployments": 1}
        assert any(e.action == "agent.trigger" for e in ws.audit_log())


def test_on_step_is_called_at_each_named_step_of_a_job_in_order(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    reached: list[str] = []
    with Workspace.open(root) as ws:
        agent = make_agent(ws, clock=Clock(), on_step=reached.append)
        agent.run_once()
        assert reached == []  # nothing fired: no step reached
        ws.datasets.add("points", points(seed=1))
        assert agent.run_once().outcomes[0].details["result"] == "deployed"
    assert tuple(reached) == AGENT_STEPS
    assert AGENT_STEPS == ("fired", "run_started", "trained", "registered", "deployed")


def test_without_a_notifier_the_agent_uses_the_workspace_notifier(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    with Workspace.open(root) as ws:
        agent = Agent(ws)
        assert agent.notifier is ws.notifier()


def test_cooldown_holds_a_second_firing_until_it_ends(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    clock = Clock()
    with Workspace.open(root) as ws:
        agent = make_agent(ws, clock=clock)
        agent.run_once()
        ws.datasets.add("points", points(seed=1))
        assert agent.run_once().fired == ("fresh",)
        ws.datasets.add("points", points(seed=2))
        clock.advance(60)
        held = agent.run_once()
        assert held.fired == ()
        assert "cooling down until" in held.skipped["fresh"]
        clock.advance(600)
        assert agent.run_once().fired == ("fresh",)
        assert counts(ws)["versions"] == 2


def test_failing_retraining_is_recorded_alerts_and_keeps_the_champion(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", min_rows=10_000)
    clock = Clock()
    inbox = Inbox()
    with Workspace.open(root) as ws:
        agent = make_agent(ws, clock=clock, notifier=inbox)
        agent.run_once()
        ws.datasets.add("points", points(seed=1))
        tick = agent.run_once()
        assert tick.outcomes[0].details["result"] == "failed"
        kinds = [e.kind for e in agent.events()]
        assert kinds == ["trigger", "error", "outcome"]
        assert "retraining failed" in agent.events()[1].reason
        assert "failed in step(s) split" in agent.events()[1].reason
        assert inbox.sent[0][0] == "agent.retrain_failed"
        assert counts(ws)["deployments"] == 0
        ws.datasets.add("points", points(seed=2))
        clock.advance(60)
        assert "cooling down" in agent.run_once().skipped["fresh"]
        state = agent.status().triggers[0]
        assert not state.running


def test_two_triggers_of_one_model_start_one_retraining(tmp_path: Path) -> None:
    triggers = (
        "  - {name: fresh, kind: new_data, model: clf, dataset: points, cooldown_s: 0}\n"
        "  - {name: fresh2, kind: new_data, model: clf, dataset: points, cooldown_s: 0}"
    )
    root = make_project(tmp_path / "proj", triggers=triggers)
    with Workspace.open(root) as ws:
        agent = make_agent(ws)  # real clock: data and firings are timed alike
        agent.run_once()
        ws.datasets.add("points", points(seed=1))
        tick = agent.run_once()
        assert tick.fired == ("fresh",)
        # fresh2 saw the same data, which the retraining fresh started already covered
        assert agent.run_once().fired == ()  # the data was covered by that retraining
        assert counts(ws)["runs"] == 1


def test_events_json_shows_the_lineage_with_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(tmp_path / "proj")
    with Workspace.open(root) as ws:
        agent = make_agent(ws)
        agent.run_once()
        ws.datasets.add("points", points(seed=1))
        agent.run_once()
    app = typer.Typer()
    register(app)
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["events", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert [e["kind"] for e in shown] == ["trigger", "run", "register", "gate", "deploy", "outcome"]
    assert shown[-1]["details"]["result"] == "deployed"
    assert all(e["reason"] for e in shown)
    status = CliRunner().invoke(app, ["agent", "status", "--json"])
    assert json.loads(status.output)["triggers"][0]["trigger"] == "fresh"
