"""End to end: `conveyor run` reports each step as it runs, as plain lines when the output
is not a terminal (a subprocess with pipes), on stderr so stdout stays the result."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_cli_runs_tree import conveyor, make_project


@pytest.mark.slow
def test_run_prints_one_plain_line_per_step_state_then_cached_lines(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    first = conveyor(project, "run", "flows.py:training", "--no-cache", "--json")
    assert json.loads(first.stdout)["status"] == "completed"  # stdout is only the JSON
    lines = first.stderr.splitlines()
    for name in ("split", "train", "evaluate"):
        assert f"step {name} running" in lines
        done = [line for line in lines if line.startswith(f"step {name} done ")]
        assert len(done) == 1
        assert re.fullmatch(rf"step {name} done \d+\.\d\d s", done[0])
    assert lines.index("step split running") < lines.index("step train running")
    assert "\x1b[" not in first.stderr  # no terminal control sequences in a pipe

    second = conveyor(project, "run", "flows.py:training")
    assert {line for line in second.stderr.splitlines() if line.startswith("step ")} == {
        "step split cached",
        "step train cached",
        "step evaluate cached",
    }
    assert "fully cached" in second.stdout
