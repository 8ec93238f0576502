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
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


#: The benchmarks in two halves that run side by side, with the titles each must print.
GROUPS = {
    "storage": (
        (
            "data",
            "data_tables",
            "tracking",
            "server",
            "pipelines",
            "tuning",
            "canary",
            "volume",
            "monitoring_scale",
            "monitoring",
            "ui",
            "features",
            "features_online",
            "features_serving",
        ),
        (
            "data add of one",
            "data add of a folder",
            "From the command line",
            "MiB Parquet table",
            "Logging 10,000 metric values",
            "Team server: local workspace vs conveyor server",
            "Starting a run on a git project",
            "pipeline of 10 no-op steps",
            "Optuna trials/s",
            "canary analysis",
            "Volume on sqlite",
            "logged rows partition by partition",
            "Drift report",
            "Concept drift",
            "Web UI pages",
            "Point-in-time join",
            "Online feature lookups",
            "Predict with online features vs full rows",
        ),
    ),
    "serving": (
        (
            "serving",
            "bodies",
            "logging",
            "coldstart",
            "predict",
        ),
        (
            "Prediction serving",
            "Prediction server, /v1/predict by body format",
            "Real uvicorn server, ",
            "cold start to first prediction",
            "Scoring ",
        ),
    ),
}


def _run(*names: str, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    """``python -m benchmarks NAMES`` from the project's root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *names],
        cwd=ROOT,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_groups_cover_every_benchmark() -> None:
    done = _run("nope")
    known = done.stderr.rsplit("known: ", 1)[1].strip().split(", ")
    names = [name for names, _ in GROUPS.values() for name in names]
    assert sorted(names) == sorted(known)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_benchmark_runs_and_prints_its_figures(group: str, tmp_path: Path) -> None:
    names, titles = GROUPS[group]
    env = {
        **os.environ,
        "CONVEYOR_BENCH_SCALE": "0.01",
        "CONVEYOR_BENCH_BASELINES": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        "COLUMNS": "200",
        "TMPDIR": str(tmp_path),
    }
    done = _run(*names, env=env, timeout=840)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for title in titles:
        assert title in out, f"{title!r} missing from:\n{out[-3000:]}"
    for skipped in (
        "mlflow models serve",
        "MlflowClient",
        "Evidently DataDriftPreset",
        "Feast get_historical_features",
    ):
        assert skipped not in out  # the baselines from their own virtualenvs


def test_an_unknown_benchmark_name_is_refused_with_the_known_ones() -> None:
    done = _run("nope")
    assert done.returncode == 2
    assert "unknown benchmark(s): nope" in done.stderr
    assert "serving" in done.stderr
