"""`conveyor ci` says what it is doing: each phase and each pipeline step as it happens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conveyor.ci import run_ci
from conveyor.core import ProgressEvent
from conveyor.workspace import Workspace


def test_run_ci_reports_phases_in_order_and_the_steps_in_between(
    ws: Workspace, tmp_path: Path
) -> None:
    events: list[ProgressEvent] = []
    run_ci(ws, report_dir=tmp_path / "r", integration=False, progress=events.append)
    phases = [(e.name, e.state) for e in events if e.kind == "phase"]
    names = ["restore data", "train", "register", "check", "report"]
    assert phases == [(n, s) for n in names for s in ("running", "done")]
    assert all(e.elapsed_s is not None for e in events if e.state == "done")
    steps = {(e.name, e.state) for e in events if e.kind == "step"}
    assert {("split", "done"), ("train", "done")} <= steps


def test_the_cli_prints_plain_progress_lines_on_stderr_and_keeps_stdout_json(
    project: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", "ci", "--report-dir", "r", "--no-integration",
         "--json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.lstrip().startswith("{")
    assert "phase train running" in proc.stderr
    assert "step train done" in proc.stderr
    assert "phase report done" in proc.stderr
