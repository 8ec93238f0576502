"""`conveyor runs list|show|compare` print names, keys, params and errors as text: rich
markup and terminal control sequences from run records never reach the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.cli import main
from conveyor.workspace import Workspace

HOSTILE = "acc[/bold][red]\x1b[2J\x9b"


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conveyor.yaml").write_text("project: {name: runs}\n", encoding="utf-8")
    monkeypatch.setenv("COLUMNS", "250")
    ids = []
    with Workspace.open(tmp_path) as ws:
        for value in (0.5, 0.6):
            run = ws.runs.start_run(f"pipe{HOSTILE}", kind="pipeline", params={HOSTILE: HOSTILE})
            step = ws.runs.start_run(f"st{HOSTILE}", kind="step", parent_id=run.id)
            ws.runs.log_metric(step.id, HOSTILE, value, step=0)
            ws.runs.finish_run(step.id, "completed")
            ws.runs.finish_run(run.id, "failed", error=f"Traceback\n{HOSTILE} [/x] bad")
            ids.append(run.id)
    return ids


@pytest.mark.parametrize("command", ["list", "show", "compare"])
def test_hostile_records_print_as_text(
    runs: list[str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"list": ["runs", "list"], "show": ["runs", "show", runs[0]]}.get(
        command, ["runs", "compare", *runs]
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x9b" not in out
    assert "[/bold][red]" in out  # shown literally, not applied
