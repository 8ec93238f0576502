"""tune on a real workspace: best params, trials as child runs, pruning, threads, failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from conveyor.tracking import RunContext, current, log_metric, run_context
from conveyor.tuning import Categorical, Float, Int, Trial, TrialPruned, TuneError, tune
from conveyor.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(tmp_path) as workspace:
        yield workspace


def _quadratic(params: dict[str, Any]) -> float:
    return float((params["x"] - 2.0) ** 2 + (params["y"] + 1) ** 2)


def test_finds_the_minimum_of_a_known_quadratic(ws: Workspace) -> None:
    result = tune(
        _quadratic,
        {"x": Float(-10, 10), "y": Int(-5, 5)},
        n_trials=60,
        seed=0,
        workspace=ws,
    )
    assert result.best_params["x"] == pytest.approx(2.0, abs=0.5)
    assert result.best_params["y"] == -1
    assert result.best_value == pytest.approx(_quadratic(result.best_params))
    assert result.n_complete == 60
    assert ws.verify_audit().ok


def test_direction_maximize_finds_the_peak(ws: Workspace) -> None:
    result = tune(
        lambda p: -((p["x"] - 3.0) ** 2) + (1.0 if p["kind"] == "b" else 0.0),
        {"x": Float(0, 6), "kind": Categorical(["a", "b"])},
        n_trials=40,
        direction="maximize",
        seed=1,
        workspace=ws,
    )
    assert result.direction == "maximize"
    assert result.best_params["kind"] == "b"
    assert result.best_value > 0.5
    values = [t.value for t in result.trials if t.value is not None]
    assert result.best_value == max(values)


def test_every_trial_is_a_child_run_with_params_and_objective_metric(ws: Workspace) -> None:
    result = tune(_quadratic, {"x": Float(-3, 3), "y": Int(0, 2)}, n_trials=5, workspace=ws)
    tune_run = ws.runs.get(result.run_id)
    assert tune_run.kind == "tune"
    assert tune_run.status == "completed"
    assert tune_run.params["best_params"] == result.best_params
    assert ws.runs.latest_metrics(tune_run.id)["best_value"] == pytest.approx(result.best_value)
    children = ws.runs.children(tune_run.id)
    assert len(children) == 5
    by_id = {run.id: run for run in children}
    for summary in result.trials:
        assert summary.run_id is not None
        run = by_id[summary.run_id]
        assert run.kind == "trial"
        assert run.status == "completed"
        assert run.params == summary.params
        assert ws.runs.latest_metrics(run.id)["objective"] == pytest.approx(_quadratic(run.params))


def test_pruned_trials_are_marked_and_keep_their_intermediate_values(ws: Workspace) -> None:
    def objective(params: dict[str, Any], trial: Trial) -> float:
        for step in range(5):
            trial.report(params["x"], step)
            if trial.should_prune():
                raise TrialPruned()
        return float(params["x"])

    result = tune(
        objective,
        {"x": Float(0, 10)},
        n_trials=3,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
        enqueue=[{"x": 1.0}, {"x": 2.0}, {"x": 9.0}],
        workspace=ws,
    )
    assert [t.state for t in result.trials] == ["complete", "complete", "pruned"]
    assert result.n_pruned == 1
    pruned = ws.runs.get(str(result.trials[2].run_id))
    assert pruned.status == "completed"
    assert pruned.tags["state"] == "pruned"
    points = ws.runs.metrics(pruned.id)
    assert [(p.key, p.value, p.step) for p in points] == [("intermediate", 9.0, 0)]
    kept = ws.runs.get(str(result.trials[0].run_id))
    assert "state" not in kept.tags
    assert [p.step for p in ws.runs.metrics(kept.id, "intermediate")] == [0, 1, 2, 3, 4]
    assert result.best_params == {"x": 1.0}


def test_two_threads_each_log_to_their_own_trial_run(ws: Workspace) -> None:
    threads: set[int] = set()
    both_running = threading.Barrier(2, timeout=60)
    calls = iter(range(1000))
    lock = threading.Lock()

    def objective(params: dict[str, Any]) -> float:
        threads.add(threading.get_ident())
        with lock:
            call = next(calls)
        if call < 2:
            both_running.wait()  # the first two trials meet: they run at once, on two threads
        log_metric("seen_x", params["x"])
        ctx = current()
        assert ctx is not None
        return float(params["x"])

    result = tune(objective, {"x": Float(0, 1)}, n_trials=12, n_jobs=2, workspace=ws)
    assert len(threads) == 2
    assert result.n_complete == 12
    assert len({t.run_id for t in result.trials}) == 12
    for summary in result.trials:
        metrics = ws.runs.latest_metrics(str(summary.run_id))
        assert metrics["seen_x"] == pytest.approx(summary.params["x"])
        assert metrics["objective"] == pytest.approx(summary.params["x"])


def test_a_raising_objective_fails_the_trial_and_the_tune_run(ws: Workspace) -> None:
    def objective(params: dict[str, Any]) -> float:
        raise ValueError(f"diverged at x={params['x']:.1f}")

    with pytest.raises(ValueError, match="diverged"):
        tune(objective, {"x": Float(0, 1)}, n_trials=3, study_name="broken", workspace=ws)
    (tune_run,) = ws.runs.list(kind="tune")
    assert tune_run.status == "failed"
    assert "ValueError: diverged" in (tune_run.error or "")
    (trial_run,) = ws.runs.children(tune_run.id)
    assert trial_run.status == "failed"
    assert "diverged at x=" in (trial_run.error or "")


def test_an_objective_returning_a_non_number_is_a_clear_error(ws: Workspace) -> None:
    with pytest.raises(TuneError, match=r"returned 'low' \(str\); it must return one number"):
        tune(lambda p: "low", {"x": Float(0, 1)}, n_trials=1, workspace=ws)


def test_inside_a_run_the_tune_run_is_its_child(ws: Workspace) -> None:
    parent = ws.runs.start_run("training", kind="pipeline", capture=False)
    ctx = RunContext(tracker=ws.runs, run_id=parent.id, workspace_root=ws.root)
    with run_context(ctx):
        result = tune(lambda p: float(p["x"]), {"x": Float(0, 1)}, n_trials=2)
    ws.runs.finish_run(parent.id, "completed")
    assert ws.runs.get(result.run_id).parent_id == parent.id
    assert [run.kind for run in ws.runs.children(parent.id)] == ["tune"]


def test_the_same_study_name_continues_the_study(ws: Workspace) -> None:
    first = tune(
        _quadratic, {"x": Float(-3, 3), "y": Int(0, 2)}, n_trials=3, study_name="grow", workspace=ws
    )
    second = tune(
        _quadratic, {"x": Float(-3, 3), "y": Int(0, 2)}, n_trials=4, study_name="grow", workspace=ws
    )
    assert len(first.trials) == 3
    assert len(second.trials) == 7
    assert second.best_value <= first.best_value
