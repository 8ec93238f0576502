"""``conveyor demo --fast`` plays the whole case study and checks its own outcome.

The real server runs as a child process; the test reads what the demo printed (the
timeline drawn from the records) and what it left behind (the records and the report).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.workspace import Workspace


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("demo") / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["COLUMNS"] = "240"
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", "demo", "--fast", "--dir", str(folder)],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder, proc.stdout


@pytest.mark.slow
def test_fast_demo_timeline_shows_retrain_promotion_and_automatic_rollback(
    demo_run: tuple[Path, str],
) -> None:
    _, out = demo_run
    assert "demo passed" in out
    assert "Timeline" in out
    assert "season-drift" in out  # the agent's retraining, fired by the drift
    assert "promote -> promoted" in out
    assert "rollback -> rolled_back" in out
    assert "analysis failed" in out  # rolled back by the controller, not by hand
    assert "gate overridden" in out  # the broken model was forced past its gate


@pytest.mark.slow
def test_fast_demo_records_the_story_and_writes_the_report(demo_run: tuple[Path, str]) -> None:
    folder, out = demo_run
    report = folder / "report.html"
    assert report.is_file()
    html = report.read_text(encoding="utf-8")
    assert "Canary steps" in html
    assert "Drift per feature" in html
    assert "report.html" in out
    with Workspace.open(folder / "shop") as ws:
        history = ws.deployments.history("production")
        actions = [t.action for t in history]
        assert actions[0] == "deploy"
        assert "promote" in actions
        assert actions[-1] == "rollback"
        assert history[-1].reason.startswith("analysis failed")
        assert ws.models.get("recommender@champion").version == 2
        assert {v.version for v in ws.datasets.log("sessions")} == {1, 2}
        assert ws.verify_audit().ok
