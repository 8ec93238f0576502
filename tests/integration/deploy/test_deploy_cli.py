"""The deployment commands, run through Typer on a real project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conveyor.cli import _deploy
from conveyor.rollout import DeploymentInProgressError
from conveyor.workspace import Workspace


@pytest.fixture
def app(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.chdir(ws.root)
    monkeypatch.setenv("CONVEYOR_ACTOR", "carol")
    root = typer.Typer()
    _deploy.register(root)
    return root


def _json(runner: CliRunner, app: typer.Typer, *args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_deploy_status_history_and_one_command_rollback(app: typer.Typer, ws: Workspace) -> None:
    runner = CliRunner()
    first = _json(runner, app, "deploy", "churn@1", "--env", "staging")
    assert first["state"] == "stable"  # type: ignore[index]
    canary = _json(
        runner,
        app,
        "deploy",
        "churn@2",
        "--env",
        "staging",
        "--strategy",
        "canary",
        "--steps",
        "20,100",
    )
    assert [v["weight"] for v in canary["variants"]] == [80.0, 20.0]  # type: ignore[index]
    status = _json(runner, app, "deployments", "status", "--env", "staging")
    assert status["staging"]["revision"] == 2  # type: ignore[index]
    back = _json(runner, app, "rollback", "--env", "staging", "--reason", "too slow")
    assert back["variants"] == first["variants"]  # type: ignore[index]
    history = _json(runner, app, "deployments", "history", "--env", "staging")
    assert [t["action"] for t in history] == ["deploy", "deploy", "rollback"]  # type: ignore[union-attr]
    assert history[-1]["reason"] == "too slow"  # type: ignore[index]
    assert history[-1]["actor"] == "carol"  # type: ignore[index]
    table = runner.invoke(
        app, ["deployments", "history", "--env", "staging"], env={"COLUMNS": "300"}
    )
    assert "too slow" in table.stdout


def test_an_overlapping_deploy_fails_with_the_first_ones_state(app: typer.Typer) -> None:
    runner = CliRunner()
    _json(runner, app, "deploy", "churn@1", "--env", "production")
    _json(runner, app, "deploy", "churn@2", "--env", "production")
    result = runner.invoke(app, ["deploy", "churn@3", "--env", "production"])
    assert isinstance(result.exception, DeploymentInProgressError)
    assert "canary, progressing" in str(result.exception)


def test_bad_steps_are_a_configuration_error(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "churn@1", "--env", "production", "--steps", "5,x"])
    assert "not a comma-separated list" in str(result.exception)
