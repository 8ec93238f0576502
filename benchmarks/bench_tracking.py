"""Metric logging speed, and the cost of starting a run.

Logs 10,000 metric values one call at a time with ``conveyor.log_metric`` inside a run on
a SQLite workspace (the figure includes the final flush), beside MLflow in the same run:
``mlflow.log_metric`` one call at a time (fewer values: it writes each one) and
``MlflowClient.log_batch`` with all 10,000 values, both on MLflow's SQLite store. MLflow
runs in its own virtualenv (``benchmarks/.venvs/mlflow``, created once with
``pip install mlflow-skinny sqlalchemy alembic``) so it never touches conveyor's.

Starting a run records the code version (git) and the environment (installed packages).
It is timed in fresh processes on a git project: the first ``start_run`` of the first
process (no environment cache yet), the first ``start_run`` of later processes (the
environment read from ``.conveyor/environment.json``) and later starts in one process
(the median of 20), each after a first read of the store (whose one-time set-up, the
imports and SQLAlchemy's mapper configuration, any first use of the workspace pays; it
is shown on its own line). The first ``start_run`` of a process that read nothing before
(so it pays that set-up itself, as a training script's first call does) is timed too, and
where the first start's time goes: the git capture, the environment read and the first
audited write (a start without capture), each timed on its own in further fresh
processes. The baseline, measured in the same run, is the capture as conveyor did it
before (three git processes and every distribution's metadata parsed as an e-mail
message), and the time of the 10,000 ``log_metric`` calls above; beside it,
``mlflow.start_run`` timed the same way (first of a process after a first use of its
store, and later ones) on the same git project, in MLflow's virtualenv.
"""

from __future__ import annotations

import email
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import conveyor
from benchmarks import external_baselines
from conveyor import tracking
from conveyor.workspace import Workspace, init_project

VALUES = 10_000
MLFLOW_ONE_BY_ONE = 1_000
VENV = Path(__file__).resolve().parent / ".venvs" / "mlflow"
START_PROCESSES = 4
#: What starting a run should cost at most (issue 18), in milliseconds.
START_TARGET_MS = 20.0

_START_SCRIPT = r"""
import json, sys, time
from conveyor.workspace import Workspace, init_project

with Workspace.open(sys.argv[1], search_parents=False) as ws:
    start = time.perf_counter()
    ws.runs.list(limit=1)  # one-time set-up of any first read: imports, ORM mappers
    setup = time.perf_counter() - start
    start = time.perf_counter()
    run = ws.runs.start_run("bench", kind="pipeline")
    first = time.perf_counter() - start
    ws.runs.finish_run(run.id, "completed")
    later = []
    for _ in range(20):
        start = time.perf_counter()
        run = ws.runs.start_run("bench", kind="pipeline")
        later.append(time.perf_counter() - start)
        ws.runs.finish_run(run.id, "completed")
    assert run.code_version is not None and run.environment is not None
print(json.dumps({"setup": setup, "first": first, "later": sorted(later)[len(later) // 2]}))
"""

#: A process whose first use of the workspace is the start (it pays the store's set-up).
_BARE_START_SCRIPT = r"""
import json, sys, time
from conveyor.workspace import Workspace

with Workspace.open(sys.argv[1], search_parents=False) as ws:
    start = time.perf_counter()
    run = ws.runs.start_run("bench", kind="pipeline")
    first = time.perf_counter() - start
    ws.runs.finish_run(run.id, "completed")
print(json.dumps({"bare": first}))
"""

#: The parts of a first start, each timed on its own after the same first read.
_PARTS_SCRIPT = r"""
import json, sys, time
from conveyor.tracking import capture_code_version, capture_environment
from conveyor.workspace import Workspace

with Workspace.open(sys.argv[1], search_parents=False) as ws:
    ws.runs.list(limit=1)
    start = time.perf_counter()
    capture_environment(ws.root / ".conveyor")
    environment = time.perf_counter() - start
    start = time.perf_counter()
    capture_code_version(ws.root)
    git = time.perf_counter() - start
    start = time.perf_counter()
    run = ws.runs.start_run("bench", kind="pipeline", capture=False)
    write = time.perf_counter() - start
    ws.runs.finish_run(run.id, "completed")
print(json.dumps({"environment": environment, "git": git, "write": write}))
"""

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


#: ``mlflow.start_run`` timed like conveyor's: first of a process (after a first use of
#: the store, here creating the experiment) and later ones. The script lies in the git
#: project, not in an ignored folder, so that MLflow records the commit as well (it is
#: written after conveyor's starts were timed: as an untracked file it makes the tree dirty).
_MLFLOW_START_SCRIPT = r"""
import json, sys, time
import mlflow
from mlflow.tracking import MlflowClient

uri, name = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
exp = MlflowClient(uri).create_experiment(name)
start = time.perf_counter()
run = mlflow.start_run(experiment_id=exp)
first = time.perf_counter() - start
mlflow.end_run()
later = []
for _ in range(20):
    start = time.perf_counter()
    run = mlflow.start_run(experiment_id=exp)
    later.append(time.perf_counter() - start)
    mlflow.end_run()
commit = run.data.tags.get("mlflow.source.git.commit")
print(json.dumps({"first": first, "later": sorted(later)[len(later) // 2], "commit": commit}))
"""


def bench_conveyor(work: Path) -> tuple[float, float]:
    """Values per second and seconds for :data:`VALUES` ``log_metric`` calls."""
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
    return VALUES / elapsed, elapsed


def _git_project(work: Path) -> Path:
    root = work / "git-project"
    init_project(root, name="bench")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first"]):
        subprocess.run([*git, *args], cwd=root, check=True, capture_output=True)
    with Workspace.open(root, search_parents=False):  # creates .conveyor/ and the store
        pass
    return root


def _legacy_capture(root: Path) -> float:
    """Seconds the capture took before: three git processes and e-mail-parsed metadata."""
    start = time.perf_counter()
    for args in (
        ["rev-parse", "--verify", "HEAD"],
        ["status", "--porcelain"],
        ["diff", "HEAD", "--no-color", "--no-ext-diff"],
    ):
        subprocess.run(["git", *args], cwd=root, capture_output=True, check=False)
    names = set()
    for dist in metadata.distributions():
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        message = email.message_from_string(text)
        names.add(f"{(message['Name'] or '').lower()}=={message['Version']}")
    return time.perf_counter() - start


def _fresh_processes(work: Path, name: str, source: str, root: Path) -> list[dict[str, float]]:
    """The JSON line printed by ``source`` run in :data:`START_PROCESSES` fresh processes."""
    script = work / name
    script.write_text(source)
    results = []
    for _ in range(START_PROCESSES):
        done = subprocess.run(
            [sys.executable, str(script), str(root)], capture_output=True, text=True, check=True
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def bench_start_run(work: Path) -> dict[str, float]:
    """Milliseconds to start a run in fresh processes, its parts, and the old capture's cost."""
    root = _git_project(work)
    (root / ".conveyor" / "environment.json").unlink(missing_ok=True)
    results = _fresh_processes(work, "start_bench.py", _START_SCRIPT, root)
    bare = _fresh_processes(work, "bare_start_bench.py", _BARE_START_SCRIPT, root)
    parts = _fresh_processes(work, "parts_bench.py", _PARTS_SCRIPT, root)
    legacy = min(_legacy_capture(root) for _ in range(3))

    def median_ms(rows: list[dict[str, float]], key: str) -> float:
        return 1000 * statistics.median(r[key] for r in rows)

    return {
        "cold_ms": 1000 * results[0]["first"],
        "warm_ms": median_ms(results[1:], "first"),
        "bare_ms": median_ms(bare, "bare"),
        "later_ms": median_ms(results, "later"),
        "git_ms": median_ms(parts, "git"),
        "environment_ms": median_ms(parts, "environment"),
        "write_ms": median_ms(parts, "write"),
        "setup_ms": median_ms(results, "setup"),
        "legacy_ms": 1000 * legacy,
    }


def bench_mlflow_starts(work: Path, root: Path, python: Path) -> dict[str, Any] | None:
    """Milliseconds of ``mlflow.start_run`` in fresh processes on the same git project."""
    script = root / "mlflow_start_bench.py"
    script.write_text(_MLFLOW_START_SCRIPT)
    uri = f"sqlite:///{work / 'mlflow-starts.db'}"
    env = {**os.environ, "GIT_PYTHON_REFRESH": "quiet"}
    results = []
    for index in range(START_PROCESSES):
        done = subprocess.run(
            [str(python), str(script), uri, f"starts-{index}"],
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            return None
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "first_ms": 1000 * statistics.median(r["first"] for r in results),
        "later_ms": 1000 * statistics.median(r["later"] for r in results),
        "records_commit": all(r["commit"] for r in results),
    }


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
        ours, logging_s = bench_conveyor(work)
        theirs = bench_mlflow(work, console) if external_baselines() else None
        starts = bench_start_run(work)
        python = VENV / "bin" / "python"
        their_starts = (
            bench_mlflow_starts(work, work / "git-project", python) if theirs is not None else None
        )
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
    _print_starts(console, starts, logging_s)
    if their_starts is not None:
        _print_mlflow_starts(console, starts, their_starts, theirs["version"] if theirs else "")


#: Rows of the start table that are parts or baselines, not starts held to the target.
_NOT_TARGETS = frozenset({"git_ms", "environment_ms", "write_ms", "setup_ms", "legacy_ms"})


def _print_starts(console: Console, starts: dict[str, float], logging_s: float) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    table = Table(title=f"Starting a run on a git project (load average {load})")
    for column in ("what", "ms", f"target < {START_TARGET_MS:.0f} ms", "of 10,000 log_metric"):
        table.add_column(column, justify="left" if column == "what" else "right")
    logging_ms = 1000 * logging_s
    for label, key in (
        ("first start_run of a process, no environment cache", "cold_ms"),
        ("first start_run of a process, environment cached", "warm_ms"),
        ("first start_run of a process that read nothing before", "bare_ms"),
        ("later start_run in the same process (median)", "later_ms"),
        ("  of a first start: the git capture", "git_ms"),
        ("  of a first start: the environment (cached)", "environment_ms"),
        ("  of a first start: the first audited write (no capture)", "write_ms"),
        ("(one-time set-up of a process's first read, not a start)", "setup_ms"),
        ("baseline: the capture as before (3 git calls, e-mail metadata)", "legacy_ms"),
    ):
        value = starts[key]
        met = "-" if key in _NOT_TARGETS else ("met" if value < START_TARGET_MS else "NOT met")
        table.add_row(label, f"{value:.1f}", met, f"{100 * value / logging_ms:.0f} %")
    console.print(table)


def _print_mlflow_starts(
    console: Console, starts: dict[str, float], theirs: dict[str, Any], version: str
) -> None:
    table = Table(title=f"Starting a run: conveyor and mlflow {version} (SQLite, git project)")
    for column in ("start_run", "conveyor ms", "mlflow ms", "conveyor / mlflow"):
        table.add_column(column, justify="left" if column == "start_run" else "right")
    for label, ours, key in (
        ("first of a process (store used before)", starts["warm_ms"], "first_ms"),
        ("later in the same process (median)", starts["later_ms"], "later_ms"),
    ):
        table.add_row(label, f"{ours:.1f}", f"{theirs[key]:.1f}", f"{ours / theirs[key]:.2f}")
    console.print(table)
    if not theirs["records_commit"]:
        console.print("[yellow]mlflow recorded no git commit (GitPython missing?)[/]")


if __name__ == "__main__":
    main()
