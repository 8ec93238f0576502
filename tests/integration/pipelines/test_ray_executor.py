"""The Ray executor: same artifacts as local, failures retried or reported, dying workers."""

from __future__ import annotations

from typing import Any

import pytest
from pipeline_project import Project

from conveyor.pipelines import PipelineFailedError, RayExecutor
from conveyor.workspace import Workspace

pytestmark = pytest.mark.slow

RAYFLOW = """
from __future__ import annotations
import os
from pathlib import Path
import numpy as np
import pandas as pd
from conveyor.pipelines import pipeline, step
from conveyor.tracking import log_metric

HERE = Path(__file__).parent


@step(cpus=1)
def make(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype="float64"), "y": np.arange(n) % 3})


@step(cpus=1)
def stats(df: pd.DataFrame) -> dict[str, float]:
    log_metric("mean", float(df["x"].mean()))
    return {"mean": float(df["x"].mean()), "rows": float(len(df))}


@step(cpus=1)
def squares(df: pd.DataFrame) -> np.ndarray:
    return (df["x"] ** 2).to_numpy()


@pipeline
def rayflow(n: int = 50) -> None:
    df = make(n)
    stats(df)
    squares(df)


@step(retries=1)
def always_fails() -> int:
    raise ValueError("ray step broke")


@pipeline
def failing() -> None:
    always_fails()


@step(retries=1)
def dies_once() -> int:
    marker = HERE / "died.flag"
    if not marker.exists():
        marker.write_text("yes")
        os._exit(1)
    return 42


@pipeline
def dying() -> None:
    dies_once()
"""


def test_ray_run_produces_the_same_output_hashes_as_local(
    ray_session: Any, project: Project, ws: Workspace
) -> None:
    project.write("rayflow.py", RAYFLOW)
    local = project.load("rayflow.py:rayflow").run(ws, cache=False)
    remote = project.load("rayflow.py:rayflow").run(ws, executor=RayExecutor(), cache=False)
    assert remote.executor == "ray"
    for name, result in local.steps.items():
        assert remote.steps[name].status == "completed"
        assert [o.hash for o in remote.steps[name].outputs] == [o.hash for o in result.outputs]
    stats_run = remote.steps["stats"].run_id
    assert stats_run is not None
    assert ws.runs.latest_metrics(stats_run) == {"mean": 24.5}
    assert ws.runs.get(stats_run).executor == "ray"


def test_a_raising_step_on_ray_is_retried_then_failed_with_its_traceback(
    ray_session: Any, project: Project, ws: Workspace
) -> None:
    project.write("rayflow.py", RAYFLOW)
    with pytest.raises(PipelineFailedError, match="always_fails") as caught:
        project.load("rayflow.py:failing").run(ws, executor="ray")
    result = caught.value.result.steps["always_fails"]
    assert result.attempts == 2
    assert "ValueError: ray step broke" in result.error


def test_a_ray_worker_dying_mid_step_is_retried(
    ray_session: Any, project: Project, ws: Workspace
) -> None:
    project.write("rayflow.py", RAYFLOW)
    result = project.load("rayflow.py:dying").run(ws, executor="ray")
    assert result.steps["dies_once"].attempts == 2
    assert result.output("dies_once") == 42


def test_a_ray_worker_dying_without_retries_fails_clearly(
    ray_session: Any, project: Project, ws: Workspace
) -> None:
    project.write("rayflow.py", RAYFLOW.replace("@step(retries=1)\ndef dies", "@step\ndef dies"))
    with pytest.raises(PipelineFailedError, match="dies_once") as caught:
        project.load("rayflow.py:dying").run(ws, executor="ray")
    error = caught.value.result.steps["dies_once"].error
    assert "attempt 1 of 1" in error
    assert "Worker" in error or "worker" in error
