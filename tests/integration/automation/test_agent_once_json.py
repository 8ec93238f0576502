"""``conveyor agent --once --json``: the decision as JSON on stdout, one line per step on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from automation_support import make_project, points

from conveyor.workspace import Workspace


def _agent(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conveyor", "agent", "--once", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_once_json_prints_the_decision_and_progress_goes_to_stderr(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    with (root / "conveyor.yaml").open("a", encoding="utf-8") as config:
        config.write("environments:\n  production: {strategy: replace}\n")
    baseline = _agent(root, "--json")
    assert baseline.returncode == 0, baseline.stderr
    assert json.loads(baseline.stdout) == {
        "acted": True,
        "holder": json.loads(baseline.stdout)["holder"],
        "fired": [],
        "outcomes": [],
        "skipped": {},
    }
    with Workspace.open(root) as ws:
        ws.datasets.add("points", points(seed=1))

    done = _agent(root, "--json")
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)  # stdout holds nothing but the JSON
    assert decision["fired"] == ["fresh"]
    assert [o["result"] for o in decision["outcomes"]] == ["deployed"]
    assert decision["outcomes"][0]["reason"].startswith("clf@1 handed to production")
    lines = [line.split(" ", 2)[2] for line in done.stderr.splitlines() if " agent " in line]
    assert lines[0].startswith("trigger fresh fired: new data: points@2")
    assert "retraining clf (pipeline, checks and gates)" in lines
    assert any(line.startswith("registered clf@1; gates: PROMOTE") for line in lines)
    assert "deploying clf@1 to production" in lines
    assert lines[-1].startswith("deployed: clf@1 handed to production")
    assert "\x1b[" not in done.stderr  # plain lines when not a terminal


def test_json_without_once_is_a_usage_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    result = subprocess.run(
        [sys.executable, "-m", "conveyor", "agent", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "--json needs --once" in result.stderr
