"""End to end: pipeline runs carry their steps' metrics through `runs list|show|compare`.

The pipelines run in the real ``conveyor`` process; the reads call the CLI in this
process (``cli_in_process.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_in_process import CliInProcess, Ran

PIPELINE = """
from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

import conveyor


@conveyor.step
def split() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=0))


@conveyor.step
def train(X: pd.DataFrame, y: pd.Series, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=20).fit(X, y)
    conveyor.log_metric("accuracy", float(accuracy_score(y, model.predict(X))))
    return model


@conveyor.step
def evaluate(model: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> float:
    predicted = model.predict(X)
    conveyor.log_metric("accuracy", float(accuracy_score(y, predicted)))
    conveyor.log_metric("f1", float(f1_score(y, predicted)))
    return float(accuracy_score(y, predicted))


@conveyor.pipeline
def training(c: float = 1.0) -> None:
    X_train, X_test, y_train, y_test = split()
    evaluate(train(X_train, y_train, c), X_test, y_test)
"""


def conveyor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_ACTOR"] = "e2e"
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"conveyor {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def make_project(tmp_path: Path) -> Path:
    conveyor(tmp_path, "init", "cancer")
    project = tmp_path / "cancer"
    (project / "flows.py").write_text(textwrap.dedent(PIPELINE).lstrip(), encoding="utf-8")
    return project


@pytest.mark.slow
def test_compare_of_two_pipeline_runs_shows_and_plots_their_step_metrics(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    def read(cwd: Path, *args: str) -> Ran:
        ran = conveyor_in_process(cwd, *args)
        assert ran.returncode == 0, f"conveyor {' '.join(args)} failed:\n{ran.stderr}"
        return ran

    project = make_project(tmp_path)
    ids = []
    for c in ("0.001", "10"):
        done = json.loads(
            conveyor(project, "run", "flows.py:training", "-p", f"c={c}", "--json").stdout
        )
        ids.append(done["run_id"])

    listed = json.loads(read(project, "runs", "list", "--json").stdout)
    assert [r["id"] for r in listed] == ids[::-1]
    assert sorted(listed[0]["metrics"]) == ["evaluate.accuracy", "f1", "train.accuracy"]

    shown = json.loads(read(project, "runs", "show", ids[0][:8], "--json").stdout)
    assert shown["metric_sources"] == {
        "evaluate.accuracy": "evaluate",
        "f1": "evaluate",
        "train.accuracy": "train",
    }

    plot = project / "compare.html"
    compared = json.loads(
        read(project, "runs", "compare", ids[0], ids[1], "--plot", str(plot), "--json").stdout
    )
    rows = compared["metrics"]
    assert sorted(rows) == ["evaluate.accuracy", "f1", "train.accuracy"]
    for row in rows.values():
        assert 0.0 < row["a"] <= 1.0
        assert 0.0 < row["b"] <= 1.0
    html = plot.read_text(encoding="utf-8")
    assert "no shared metrics" not in html
    for run_id in ids:
        assert f'"name":"{run_id[:8]} evaluate.accuracy"' in html

    table = read(project, "runs", "compare", ids[0], ids[1]).stdout
    assert "evaluate.accuracy" in table
    assert "History of f1" in table
