"""Metric logging speed.

Logs 10,000 metric values one call at a time with ``conveyor.log_metric`` inside a run on
a SQLite workspace (the figure includes the final flush), beside MLflow in the same run:
``mlflow.log_metric`` one call at a time (fewer values: it writes each one) and
``MlflowClient.log_batch`` with all 10,000 values, both on MLflow's SQLite store. MLflow
runs in its own virtualenv (``benchmarks/.venvs/mlflow``, created once with
``pip install mlflow-skinny sqlalchemy alembic``) so it never touches conveyor's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import conveyor
from benchmarks import external_baselines
from conveyor import tracking
from conveyor.workspace import Workspace

VALUES = 10_000
MLFLOW_ONE_BY_ONE = 1_000
VENV = Path(__file__).resolve().parent / ".venvs" / "mlflow"

_MLFLOW_SCRIPT = r"""
import json, sys, time
import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

uri, n_single, n_batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)
exp = client.create_experiment("bench")
out = {"version": mlflow.__version__}
with mlflow.start_run(experiment_id=exp):
    mlflow.log_metric("warmup", 0.0)
    start = time.perf_counter()
    for i in range(n_single):
        mlflow.log_metric("loss", i * 0.5, step=i)
    out["single_s"] = time.perf_counter() - start
run = client.create_run(exp)
now = int(time.time() * 1000)
metrics = [Metric("loss", i * 0.5, now, i) for i in range(n_batch)]
start = time.perf_counter()
for lo in range(0, n_batch, 1000):  # log_batch accepts at most 1000 metrics per call
    client.log_batch(run.info.run_id, metrics=metrics[lo:lo + 1000])
out["batch_s"] = time.perf_counter() - start
client.set_terminated(run.info.run_id)
print(json.dumps(out))
"""


def bench_conveyor(work: Path) -> float:
    log_metric = getattr(conveyor, "log_metric", tracking.log_metric)
    with Workspace.open(work / "project", search_parents=False) as ws:
        run = ws.runs.start_run("bench", kind="pipeline")
        ctx = tracking.RunContext(ws.runs, run.id, workspace_root=ws.settings.root)
        start = time.perf_counter()
        with tracking.run_context(ctx):
            for i in range(VALUES):
                log_metric("loss", i * 0.5, step=i)
        ws.runs.finish_run(run.id, "completed")
        elapsed = time.perf_counter() - start
        stored = len(ws.runs.metrics(run.id, "loss"))
    if stored != VALUES:
        raise RuntimeError(f"expected {VALUES} stored values, found {stored}")
    return VALUES / elapsed


def _mlflow_python(console: Console) -> Path | None:
    python = VENV / "bin" / "python"
    if python.exists() and _can_import(python):
        return python
    console.print(f"Creating {VENV} with mlflow-skinny (once)...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "mlflow-skinny", "sqlalchemy", "alembic"],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        console.print(f"[yellow]MLflow could not be installed:[/] {detail.strip()[-500:]}")
        return None
    return python if _can_import(python) else None


def _can_import(python: Path) -> bool:
    done = subprocess.run(
        [str(python), "-c", "import mlflow, sqlalchemy, alembic"], capture_output=True, check=False
    )
    return done.returncode == 0


def bench_mlflow(work: Path, console: Console) -> dict[str, Any] | None:
    python = _mlflow_python(console)
    if python is None:
        return None
    script = work / "mlflow_bench.py"
    script.write_text(_MLFLOW_SCRIPT)
    uri = f"sqlite:///{work / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "GIT_PYTHON_REFRESH": "quiet"}
    done = subprocess.run(
        [str(python), str(script), uri, str(MLFLOW_ONE_BY_ONE), str(VALUES)],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        console.print(f"[yellow]MLflow benchmark failed:[/] {done.stderr.strip()[-800:]}")
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-tracking-") as tmp:
        work = Path(tmp)
        ours = bench_conveyor(work)
        theirs = bench_mlflow(work, console) if external_baselines() else None
    table = Table(title=f"Logging {VALUES:,} metric values (SQLite)")
    for column in ("method", "values", "values/s", "conveyor is"):
        table.add_column(column, justify="left" if column == "method" else "right")
    table.add_row(
        "conveyor.log_metric, one call each (incl. flush)", f"{VALUES:,}", f"{ours:,.0f}", "-"
    )
    if theirs is not None:
        single = MLFLOW_ONE_BY_ONE / theirs["single_s"]
        batch = VALUES / theirs["batch_s"]
        version = theirs["version"]
        table.add_row(
            f"mlflow {version} log_metric, one call each",
            f"{MLFLOW_ONE_BY_ONE:,}",
            f"{single:,.0f}",
            f"{ours / single:,.1f}x",
        )
        table.add_row(
            f"mlflow {version} MlflowClient.log_batch",
            f"{VALUES:,}",
            f"{batch:,.0f}",
            f"{ours / batch:,.1f}x",
        )
    console.print(table)


if __name__ == "__main__":
    main()
