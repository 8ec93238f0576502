"""`conveyor export airflow` loaded and run by a real Airflow against a real project.

Airflow lives in its own virtual environment (it would clash with conveyor's), cached at
``~/.cache/conveyor-tests/venvs/airflow-<version>`` and built once under a file lock:
``pip install apache-airflow==3.1.8``, the newest release of the 3.1 line, which resolves
on Python 3.11 from PyPI alone (no constraints file). Its metadata database is SQLite in a
temporary AIRFLOW_HOME. ``DagBag`` checks the tasks, dependencies, retries and params;
``airflow tasks test`` runs the first step and ``airflow dags test`` the whole DAG, each
task calling this environment's ``conveyor step-exec`` in the project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from conveyor.infra._airflow import airflow_id, export_airflow
from conveyor.pipelines import load_pipeline
from conveyor.workspace import Workspace, init_project
from small_project import points

AIRFLOW_VERSION = "3.1.8"
VENVS = Path.home() / ".cache" / "conveyor-tests" / "venvs"
REQUIRE = os.environ.get("CONVEYOR_REQUIRE_SERVICES") == "1"
CONVEYOR = Path(sys.executable).parent / "conveyor"

#: The small project's split/train pipeline over its `points` data set, plus a scoring
#: step that records a text parameter, under a pipeline name Airflow does not accept.
PIPELINES = """
import pandas as pd
from sklearn.linear_model import LogisticRegression

import conveyor
from conveyor.tracking import log_metric


@conveyor.step
def split(df: pd.DataFrame, min_rows: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    if len(df) < min_rows:
        raise ValueError(f"need at least {min_rows} rows, got {len(df)}")
    cut = int(len(df) * 0.7)
    return df.iloc[:cut].reset_index(drop=True), df.iloc[cut:].reset_index(drop=True)


@conveyor.step(retries=1)
def train(train: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(train.drop(columns=["y"]), train["y"])


@conveyor.step(name="score model")
def score(model: LogisticRegression, holdout: pd.DataFrame, note: str) -> dict[str, str]:
    accuracy = float(model.score(holdout.drop(columns=["y"]), holdout["y"]))
    log_metric("accuracy", accuracy)
    return {"note": note}


@conveyor.pipeline(name="points training")
def training(data: str = "points@latest", min_rows: int = 0, note: str = "plain") -> None:
    df = conveyor.load_dataset(data)
    fit, holdout = split(df, min_rows=min_rows)
    score(train(fit), holdout, note)
"""

#: Run with Airflow's Python: the DAG folder as Airflow parses it, as JSON.
CHECK = """
import json, sys
from airflow.models.dagbag import DagBag

bag = DagBag(sys.argv[1], include_examples=False)
print(json.dumps({
    "errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "tasks": {
                t.task_id: {
                    "upstream": sorted(t.upstream_task_ids),
                    "downstream": sorted(t.downstream_task_ids),
                    "retries": t.retries,
                    "operator": type(t).__module__ + "." + type(t).__name__,
                }
                for t in dag.tasks
            },
            "params": dag.params.dump(),
            "schedule": str(getattr(dag, "timetable", None).summary),
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""

#: A parameter value that breaks naive code generation, quoting or templating.
HOSTILE = "it's \"quoted\" '''x'''\nline 2 \\ {{ run_id }} $(id) é 漢"


def _unavailable(message: str) -> None:
    if REQUIRE:
        pytest.fail(f"{message} and CONVEYOR_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def airflow_venv() -> Path:
    """The cached Airflow environment's folder, built on first use (two workers may ask)."""
    target = VENVS / f"airflow-{AIRFLOW_VERSION}"
    ready = target / ".conveyor-ready"
    VENVS.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock", timeout=1100):
        if ready.is_file():
            return target
        shutil.rmtree(target, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(target)],
            [str(target / "bin" / "python"), "-m", "pip", "install", "-q",
             f"apache-airflow=={AIRFLOW_VERSION}"],
        ]  # fmt: skip
        for command in steps:
            done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                _unavailable(f"{' '.join(command[-3:])} failed: {done.stderr[-2000:]}")
        ready.write_text(AIRFLOW_VERSION)
    return target


@pytest.fixture(scope="module")
def venv() -> Path:
    return airflow_venv()


@pytest.fixture
def airflow_env(venv: Path, tmp_path: Path) -> dict[str, str]:
    """An AIRFLOW_HOME with a migrated SQLite database and an empty DAG folder."""
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    _airflow(venv, env, "db", "migrate")
    return env


def _airflow(venv: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "airflow"), *args],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"airflow {' '.join(args)}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout + done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    init_project(root, name="proj")
    (root / "af_points.py").write_text(textwrap.dedent(PIPELINES).lstrip(), encoding="utf-8")
    with Workspace.open(root, search_parents=False) as ws:
        ws.datasets.add("points", points())
    return root


def _pipeline_run(root: Path, dag_id: str) -> Any:
    with Workspace.open(root, search_parents=False) as ws:
        runs = [
            r
            for r in ws.runs.list(kind="pipeline")
            if str(r.tags.get("external_run", "")).startswith(f"airflow:{dag_id}:")
        ]
        assert len(runs) == 1, runs
        steps = {c.name: c for c in ws.runs.children(runs[0].id)}
        return runs[0], steps


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_airflow_parses_the_dag_and_runs_its_steps_against_the_project(
    venv: Path, airflow_env: dict[str, str], project: Path
) -> None:
    dags = Path(airflow_env["AIRFLOW__CORE__DAGS_FOLDER"])
    export_airflow(
        load_pipeline("af_points:training", project),
        dags / "points.py",
        params={"note": HOSTILE},
        project_dir=project,
        conveyor_bin=str(CONVEYOR),
    )
    dag_id = airflow_id("points training")
    score = airflow_id("score model")

    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", CHECK, str(dags)],
        env=airflow_env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert check.returncode == 0, check.stderr[-4000:]
    parsed = json.loads(check.stdout.strip().splitlines()[-1])
    assert parsed["errors"] == {}
    assert list(parsed["dags"]) == [dag_id]
    dag = parsed["dags"][dag_id]
    assert {t: (v["upstream"], v["downstream"], v["retries"]) for t, v in dag["tasks"].items()} == {
        "load_dataset": ([], ["split"], 0),
        "split": (["load_dataset"], sorted(["train", score]), 0),
        "train": (["split"], [score], 1),
        score: (sorted(["split", "train"]), [], 0),
    }
    assert {v["operator"] for v in dag["tasks"].values()} == {
        "airflow.providers.standard.operators.bash.BashOperator"
    }
    assert dag["params"] == {"data": "points@latest", "min_rows": 0, "note": HOSTILE}

    # One task on its own, as `airflow tasks test` runs it.
    _airflow(venv, airflow_env, "tasks", "test", dag_id, "load_dataset")
    run, steps = _pipeline_run(project, dag_id)
    assert {name: s.status for name, s in steps.items()} == {"load_dataset": "completed"}
    assert run.status == "running"
    assert run.params["note"] == HOSTILE

    # The whole DAG in one Airflow run, with parameters given when triggering.
    conf = json.dumps({"note": HOSTILE + " (triggered)", "min_rows": 10})
    _airflow(venv, airflow_env, "dags", "test", dag_id, "-c", conf)
    with Workspace.open(project, search_parents=False) as ws:
        runs = [
            r
            for r in ws.runs.list(kind="pipeline")
            if str(r.tags.get("external_run", "")).startswith(f"airflow:{dag_id}:manual__")
        ]
        assert len(runs) == 1
        full = runs[0]
        children = {c.name: c for c in ws.runs.children(full.id)}
        assert full.status == "completed"
        assert full.params == {
            "data": "points@latest",
            "min_rows": 10,
            "note": HOSTILE + " (triggered)",
        }
        assert children.pop("load_dataset").status in {"completed", "cached"}
        assert {n: c.status for n, c in children.items()} == {
            "split": "completed",
            "train": "completed",
            "score model": "completed",
        }
        assert 0.5 < ws.runs.latest_metrics(children["score model"].id)["accuracy"] <= 1.0
