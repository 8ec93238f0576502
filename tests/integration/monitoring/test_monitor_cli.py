"""``monitor run`` and ``monitor report`` through the Typer app, with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from monitor_support import log_traffic, open_project, table
from typer.testing import CliRunner

from conveyor.cli._monitor import app
from conveyor.core import utcnow


def test_monitor_run_exits_3_on_drift_and_report_shows_the_latest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    with open_project(root) as ws:
        window = table(600, seed=4)
        window["x0"] += 1.5
        log_traffic(ws, window, prefix="cli", end=utcnow())
    monkeypatch.chdir(root)
    runner = CliRunner()
    ran = runner.invoke(app, ["run", "--env", "production", "--window", "1h", "--json"])
    assert ran.exit_code == 3, ran.output
    body = json.loads(ran.output)
    assert body["verdict"] == "drift"
    assert body["drift"]["drifted"] == ["x0"]
    shown = runner.invoke(app, ["report", "--env", "production", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["id"] == body["id"]
    table_view = runner.invoke(app, ["report"])
    assert "drift" in table_view.output
    assert "x0" in table_view.output


def test_monitor_report_without_reports_fails_with_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    open_project(root).close()
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["report", "--env", "production"])
    assert result.exit_code != 0
    assert "No monitoring report exists yet for environment 'production'" in str(result.exception)
    assert "conveyor monitor run --env" in (getattr(result.exception, "hint", None) or "")
