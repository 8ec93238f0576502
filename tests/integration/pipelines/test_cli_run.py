"""`conveyor run`, `repro`, `export kfp` and `step-exec` on a real project."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pipeline_project import Project

from conveyor.cli import main
from conveyor.workspace import Workspace

TRAINING = """
from __future__ import annotations
import pandas as pd
from conveyor.pipelines import load_dataset, pipeline, step
from conveyor.tracking import log_metric


@step
def fit(df: pd.DataFrame, lr: float) -> dict[str, float]:
    mean = float(df["x"].mean())
    log_metric("mean", mean)
    log_metric("score", mean * lr)
    return {"mean": mean}


@pipeline
def training(data: str = "numbers@latest", lr: float = 0.5) -> None:
    fit(load_dataset(data), lr=lr)
"""


@pytest.fixture
def in_project(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.chdir(project.root)
    project.write("training.py", TRAINING)
    with project.open() as ws:
        ws.datasets.add("numbers", pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
    return project


def test_run_prints_steps_and_run_id_then_fully_cached(
    in_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "training:training", "-p", "lr=2"]) == 0
    out = capsys.readouterr().out
    assert "load_dataset" in out
    assert "completed" in out
    assert main(["run", "training:training", "-p", "lr=2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {s["status"] for s in payload["steps"]} == {"cached"}
    assert payload["datasets"] == {"numbers": 1}
    assert payload["params"] == {"data": "numbers@latest", "lr": 2.0}


def test_wrong_parameter_type_exits_1_with_the_expected_type(
    in_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "training:training", "-p", "lr=abc"]) == 1
    err = capsys.readouterr().err
    assert "Parameter 'lr' of pipeline 'training' expects float, got 'abc'" in err


def test_unknown_parameter_lists_the_valid_ones(
    in_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "training:training", "-p", "rate=1"]) == 1
    assert "no parameter 'rate'. Parameters: data, lr" in capsys.readouterr().err


def test_unknown_module_and_pipeline_exit_1_with_a_clear_message(
    in_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "nowhere.module:training"]) == 1
    assert "No module named 'nowhere.module'" in capsys.readouterr().err
    assert main(["run", "training:nope"]) == 1
    assert "'nope' in 'training' does not exist. Pipelines there: training" in (
        capsys.readouterr().err
    )


def test_repro_pins_dataset_versions_and_reproduces_metrics(
    in_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with in_project.open() as ws:
        original = in_project.load("training:training").run(ws, params={"lr": 2.0})
        ws.datasets.add("numbers", pd.DataFrame({"x": [10.0, 20.0]}))  # a newer version
    assert main(["repro", original.run_id[:8], "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["run"]["datasets"] == {"numbers": 1}
    assert outcome["metrics"]["fit.score"] == {"original": 4.0, "reproduced": 4.0}
    assert outcome["metrics"]["fit.mean"] == {"original": 2.0, "reproduced": 2.0}
    assert {s["status"] for s in outcome["run"]["steps"]} == {"completed"}


def test_export_kfp_compiles_a_yaml_kfp_loads_back(in_project: Project, tmp_path: Path) -> None:
    from kfp import components

    target = tmp_path / "training.yaml"
    assert main(["export", "kfp", "training:training", "-o", str(target)]) == 0
    spec = yaml.safe_load(target.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"load-dataset", "fit"}
    assert tasks["fit"]["dependentTasks"] == ["load-dataset"]
    executor = spec["deploymentSpec"]["executors"]["exec-fit"]["container"]
    assert executor["command"] == ["conveyor", "step-exec"]
    assert executor["args"][:4] == ["--pipeline", "training:training", "--step", "fit"]
    loaded = components.load_component_from_file(str(target))
    assert loaded.name == "training"


def test_step_exec_runs_nodes_one_process_at_a_time_and_completes_the_run(
    in_project: Project,
) -> None:
    args = ["--pipeline", "training:training", "--run-id", "kfp-123", "--params", "{}"]
    assert main(["step-exec", "--step", "load_dataset", *args]) == 0
    assert main(["step-exec", "--step", "fit", *args]) == 0
    with Workspace.open(in_project.root) as ws:
        run = ws.runs.list(kind="pipeline")[0]
        assert run.tags == {"external_run": "kfp-123"}
        assert run.status == "completed"
        assert sorted(c.name for c in ws.runs.children(run.id)) == ["fit", "load_dataset"]


FLAKY = """
from __future__ import annotations
from pathlib import Path
from conveyor.pipelines import pipeline, step


@step(retries=2, cache=False)
def flaky(marker: str) -> int:
    attempts = Path(marker)
    count = int(attempts.read_text()) + 1 if attempts.exists() else 1
    attempts.write_text(str(count))
    if not Path(marker + ".ok").exists():
        raise RuntimeError(f"attempt {count} fails")
    return count


@pipeline
def flaky_pipeline(marker: str = "attempts.txt") -> None:
    flaky(marker)
"""


def test_step_exec_no_retries_makes_one_attempt_and_a_later_task_attempt_completes(
    in_project: Project,
) -> None:
    in_project.write("flaky.py", FLAKY)
    args = ["--pipeline", "flaky:flaky_pipeline", "--step", "flaky", "--run-id", "af-1"]
    marker = in_project.root / "attempts.txt"
    # Without the flag the step's own retries apply: 3 attempts in one process.
    assert main(["step-exec", *args[:-1], "own-retries"]) == 1
    assert marker.read_text() == "3"
    marker.unlink()
    # With it, one attempt per call: the calling orchestrator (Airflow) retries the task.
    assert main(["step-exec", *args, "--no-retries"]) == 1
    assert marker.read_text() == "1"
    (in_project.root / "attempts.txt.ok").write_text("")
    assert main(["step-exec", *args, "--no-retries"]) == 0
    assert marker.read_text() == "2"
    with Workspace.open(in_project.root) as ws:
        run = next(r for r in ws.runs.list(kind="pipeline") if r.tags == {"external_run": "af-1"})
        assert run.status == "completed"
