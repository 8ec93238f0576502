"""`tune(progress=...)` reports every trial as it ends, with the best value so far."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.core._progress import ProgressEvent
from conveyor.tuning import Float, Trial, TrialPruned, tune
from conveyor.workspace import Workspace, init_project


@pytest.fixture
def ws(tmp_path: Path) -> Any:
    init_project(tmp_path / "proj", name="proj")
    with Workspace.open(tmp_path / "proj", search_parents=False) as workspace:
        yield workspace


def test_maximising_reports_a_non_decreasing_best_and_pruned_trials(ws: Workspace) -> None:
    events: list[ProgressEvent] = []

    def objective(params: dict[str, float], trial: Trial) -> float:
        if trial.number == 2:
            raise TrialPruned
        return -((params["x"] - 1.0) ** 2)

    result = tune(
        objective,
        {"x": Float(-3, 3)},
        n_trials=5,
        seed=1,
        direction="maximize",
        workspace=ws,
        progress=events.append,
    )
    assert [e.kind for e in events] == ["trial"] * 5
    assert [e.state for e in events] == ["done", "done", "pruned", "done", "done"]
    assert events[2].detail["value"] is None
    bests = [e.detail["best"] for e in events]
    assert bests == sorted(bests)
    assert bests[-1] == pytest.approx(result.best_value)
    assert all(e.detail["step"] is None and e.detail["direction"] == "maximize" for e in events)
    assert events[0].name.endswith("/trial-0")
    assert "pruned" in events[2].line()


def test_without_a_hook_nothing_is_reported_and_the_result_is_the_same(ws: Workspace) -> None:
    first = tune(lambda p: p["x"] ** 2, {"x": Float(-1, 1)}, n_trials=3, seed=0, workspace=ws)
    events: list[ProgressEvent] = []
    second = tune(
        lambda p: p["x"] ** 2,
        {"x": Float(-1, 1)},
        n_trials=3,
        seed=0,
        workspace=ws,
        progress=events.append,
    )
    assert first.best_value == second.best_value
    assert len(events) == 3
