"""End to end: the tabular example project through the real ``conveyor`` command.

Runs the breast-cancer training pipeline from the CLI, shows a second run is fully cached,
that editing one step re-runs exactly it and what depends on it, that tuning recorded its
trials, that ``repro`` reproduces the metrics, that the Ray executor produces identical
artifacts, and that the Kubeflow export compiles.

Pipelines run in the real ``conveyor`` process; reading runs back and the export call the
CLI in this process (``cli_in_process.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_in_process import CliInProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tabular"


def conveyor(cwd: Path, *args: str, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="e2e", RAY_USAGE_STATS_ENABLED="0", COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"conveyor {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def read_json(run: CliInProcess, cwd: Path, *args: str) -> object:
    """``conveyor ARGS --json`` in this process; exit 0 asserted; its output parsed."""
    ran = run(cwd, *args, "--json")
    assert ran.returncode == 0, f"conveyor {' '.join(args)} failed:\n{ran.stdout}\n{ran.stderr}"
    return json.loads(ran.stdout)


def statuses(run: dict[str, object]) -> dict[str, str]:
    steps = run["steps"]
    assert isinstance(steps, list)
    return {s["name"]: s["status"] for s in steps}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tabular")
    for name in ("conveyor.yaml", "pipelines.py", "prepare_data.py"):
        shutil.copy(EXAMPLE / name, root / name)
    subprocess.run([sys.executable, "prepare_data.py"], cwd=root, check=True, timeout=120)
    conveyor(root, "data", "add", "cancer", "data/cancer.csv")
    return root


@pytest.mark.slow
def test_run_cache_code_change_repro(project: Path, conveyor_in_process: CliInProcess) -> None:
    first = json.loads(conveyor(project, "run", "pipelines:training", "-p", "n_trials=4", "--json"))
    assert first["status"] == "completed"
    assert set(statuses(first).values()) == {"completed"}
    assert first["datasets"] == {"cancer": 1}

    second = conveyor(project, "run", "pipelines:training", "-p", "n_trials=4")
    assert "fully cached" in second

    shown = read_json(conveyor_in_process, project, "runs", "show", first["run_id"])
    assert isinstance(shown, dict)
    assert shown["run"]["params"]["n_trials"] == 4
    tune_step = next(s for s in first["steps"] if s["name"] == "tune_model")
    tune_runs = read_json(conveyor_in_process, project, "runs", "list", "--kind", "tune")
    trials = read_json(conveyor_in_process, project, "runs", "list", "--kind", "trial")
    assert isinstance(tune_runs, list)
    assert isinstance(trials, list)
    assert any(r["parent_id"] == tune_step["run_id"] for r in tune_runs)
    assert len([t for t in trials if t["status"] == "completed"]) >= 4

    source = project / "pipelines.py"
    original = source.read_text()
    source.write_text(
        original.replace(
            '"log_loss": float(log_loss(y, proba)),',
            '"log_loss": float(log_loss(y, proba)),\n        "n_test": float(len(y)),',
        )
    )
    try:
        edited = json.loads(
            conveyor(project, "run", "pipelines:training", "-p", "n_trials=4", "--json")
        )
    finally:
        source.write_text(original)
    assert statuses(edited) == {
        "load_dataset": "cached",
        "split": "cached",
        "tune_model": "cached",
        "train": "cached",
        "evaluate": "completed",
    }

    repro = json.loads(conveyor(project, "repro", first["run_id"], "--json"))
    metrics = repro["metrics"]
    for key in ("evaluate.accuracy", "evaluate.roc_auc", "evaluate.log_loss"):
        assert metrics[key]["original"] == pytest.approx(metrics[key]["reproduced"])


@pytest.mark.slow
def test_ray_executor_produces_identical_artifacts(project: Path) -> None:
    local = json.loads(
        conveyor(project, "run", "pipelines:training", "-p", "n_trials=2", "--no-cache", "--json")
    )
    ray = json.loads(
        conveyor(
            project,
            "run",
            "pipelines:training",
            "-p",
            "n_trials=2",
            "--no-cache",
            "--executor",
            "ray",
            "--json",
        )
    )
    assert ray["status"] == "completed"
    assert ray["executor"] == "ray"
    by_step = {s["name"]: s["outputs"] for s in local["steps"]}
    for step in ray["steps"]:
        if step["name"] in ("load_dataset", "split"):  # deterministic given the seed
            assert step["outputs"] == by_step[step["name"]]


def test_kfp_export_compiles_every_step(
    project: Path, tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    out = tmp_path / "training.yaml"
    exported = conveyor_in_process(project, "export", "kfp", "pipelines:training", "-o", str(out))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    spec = yaml.safe_load(out.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert {"load-dataset", "split", "tune-model", "train", "evaluate"} <= set(tasks)
