"""Pipeline progress: each step reports running/done (with time), cached, failed, skipped,
and a tuning study inside a step reports its trials with the best value so far."""

from __future__ import annotations

import pytest
from pipeline_project import Project

from conveyor.core._progress import ProgressEvent
from conveyor.pipelines import PipelineFailedError
from conveyor.workspace import Workspace

FAILING = """
from conveyor.pipelines import pipeline, step


@step
def source() -> int:
    return 3


@step(retries=1)
def broken(x: int) -> int:
    raise ValueError("no")


@step
def after(x: int) -> int:
    return x


@step
def fine(x: int) -> int:
    return x


@pipeline
def flow() -> None:
    x = source()
    after(broken(x))
    fine(x)
"""

TUNED = """
import conveyor
from conveyor.pipelines import pipeline, step
from conveyor.tuning import Float


@step
def search(n: int) -> float:
    result = conveyor.tune(
        lambda p: (p["x"] - 2.0) ** 2, {"x": Float(-5, 5)}, n_trials=n, seed=0
    )
    return result.best_value


@pipeline
def flow(n: int = 6) -> None:
    search(n)
"""


def states(events: list[ProgressEvent]) -> list[tuple[str, str]]:
    return [(e.name, e.state) for e in events if e.kind == "step"]


def test_steps_report_running_then_done_with_time_then_cached(
    project: Project, ws: Workspace
) -> None:
    project.write_flow()
    events: list[ProgressEvent] = []
    project.load().run(ws, progress=events.append, max_workers=1)
    seen = states(events)
    for name in ("source", "left", "right", "join"):
        assert seen.index((name, "running")) < seen.index((name, "done"))
    done = [e for e in events if e.state == "done"]
    assert all(e.elapsed_s is not None and e.elapsed_s >= 0 for e in done)
    assert done[0].line().startswith(f"step {done[0].name} done ")

    again: list[ProgressEvent] = []
    project.load().run(ws, progress=again.append)
    assert sorted(states(again)) == sorted(
        (name, "cached") for name in ("source", "left", "right", "join")
    )
    assert all(e.detail["cached_from"] for e in again)


def test_a_failed_step_reports_failed_and_its_dependents_skipped(
    project: Project, ws: Workspace
) -> None:
    project.write("failing.py", FAILING)
    events: list[ProgressEvent] = []
    with pytest.raises(PipelineFailedError, match="broken"):
        project.load("failing.py:flow").run(ws, progress=events.append)
    final = dict(states(events))
    assert final == {"source": "done", "broken": "failed", "after": "skipped", "fine": "done"}
    assert [s for name, s in states(events) if name == "broken"] == [
        "running",
        "retrying",
        "failed",
    ]


def test_no_hook_runs_silently_and_identically(project: Project, ws: Workspace) -> None:
    project.write_flow()
    result = project.load().run(ws)
    assert result.status == "completed"


def test_trials_of_a_study_inside_a_step_report_the_best_so_far(
    project: Project, ws: Workspace
) -> None:
    project.write("tuned.py", TUNED)
    events: list[ProgressEvent] = []
    project.load("tuned.py:flow").run(ws, progress=events.append)
    trials = [e for e in events if e.kind == "trial"]
    assert [e.detail["number"] for e in trials] == list(range(6))
    assert {e.detail["step"] for e in trials} == {"search"}
    assert all(e.detail["n_trials"] == 6 for e in trials)
    bests = [e.detail["best"] for e in trials]
    assert bests == [min(e.detail["value"] for e in trials[: i + 1]) for i in range(6)]
    assert "best" in trials[-1].line()
    # Trials end while the step runs: between its running and done events.
    order = [(e.kind, e.state) for e in events]
    assert order.index(("step", "running")) < order.index(("trial", "done"))
    assert order.index(("step", "done")) > len(order) - 2


def test_the_cli_renderer_draws_live_lines_on_a_terminal_and_plain_lines_otherwise(
    project: Project, ws: Workspace
) -> None:
    import io

    from rich.console import Console

    from conveyor.cli._run import StepProgress

    project.write("tuned.py", TUNED)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, color_system=None)
    with StepProgress(terminal) as progress:
        project.load("tuned.py:flow").run(ws, progress=progress, params={"n": 3})
    assert "search  ✓ done" in screen.getvalue()

    piped = io.StringIO()
    with StepProgress(Console(file=piped, force_terminal=False)) as progress:
        project.load("tuned.py:flow").run(ws, progress=progress, params={"n": 3})
    assert piped.getvalue().splitlines() == ["step search cached"]


def test_repro_reports_its_steps_as_plain_lines(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from conveyor.cli import main

    project.write_flow()
    with project.open() as workspace:
        original = project.load().run(workspace)
    monkeypatch.chdir(project.root)
    capsys.readouterr()
    assert main(["repro", original.run_id[:8]]) == 0
    lines = capsys.readouterr().err.splitlines()
    for name in ("source", "left", "right", "join"):
        assert f"step {name} running" in lines
        assert any(line.startswith(f"step {name} done ") for line in lines)
