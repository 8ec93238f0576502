"""Every benchmark runs to the end at a tiny scale, so none rots between `make bench` runs.

The baselines that need their own virtualenvs (MLflow, Evidently; installed from PyPI on
first use) are skipped here; everything conveyor measures runs for real, the servers on
127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_benchmark_runs_and_prints_its_figures(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CONVEYOR_BENCH_SCALE": "0.01",
        "CONVEYOR_BENCH_BASELINES": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "COLUMNS": "200",
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks"],
        cwd=ROOT,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for title in (
        "canary analysis",
        "data add of one",
        "data add of a folder",
        "pipeline of 10 no-op steps",
        "Optuna trials/s",
        "Drift report",
        "Concept drift",
        "Prediction serving",
        "Logging 10,000 metric values",
        "Team server: local workspace vs conveyor server",
        "Web UI pages",
        "Point-in-time join",
        "Online feature lookups",
        "Predict with online features vs full rows",
        "From the command line",
        "logged rows partition by partition",
        "Volume on sqlite",
        "Starting a run on a git project",
        "Prediction server, /v1/predict by body format",
        "Real uvicorn server, ",
        "cold start to first prediction",
        "Scoring ",
        "MiB Parquet table",
    ):
        assert title in out, f"{title!r} missing from:\n{out[-3000:]}"
    for skipped in (
        "mlflow models serve",
        "MlflowClient",
        "Evidently DataDriftPreset",
        "Feast get_historical_features",
    ):
        assert skipped not in out  # the baselines from their own virtualenvs


def test_an_unknown_benchmark_name_is_refused_with_the_known_ones() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "nope"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "unknown benchmark(s): nope" in done.stderr
    assert "serving" in done.stderr
