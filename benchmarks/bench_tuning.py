"""Tuning overhead: Optuna trials/s through ``conveyor.tune`` versus Optuna alone.

Both run the same trivial objective for the same number of trials on the same storage:
the workspace's SQLite metadata database (WAL), through Optuna's RDB storage. The
difference is what conveyor adds per trial: a child run started and finished (two
audited writes plus the batched ``objective`` metric).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from rich.console import Console
from rich.table import Table

from conveyor.tuning import Float, tune
from conveyor.tuning._storage import close_storage, open_storage, quiet_optuna
from conveyor.workspace import Workspace, init_project


def _trials() -> int:
    return max(int(200 * float(os.environ.get("CONVEYOR_BENCH_SCALE", "1.0"))), 10)


def _objective(params: dict[str, Any]) -> float:
    return float(params["x"] ** 2)


def bench_optuna_alone(ws: Workspace, n: int) -> float:
    storage = open_storage(ws.store.engine, busy_timeout_s=30.0)
    try:
        with quiet_optuna():
            study = optuna.create_study(
                storage=storage, study_name="optuna-alone", sampler=optuna.samplers.RandomSampler(0)
            )
            start = time.perf_counter()
            study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=n)
            return time.perf_counter() - start
    finally:
        close_storage(storage)


def bench_conveyor_tune(ws: Workspace, n: int) -> float:
    start = time.perf_counter()
    tune(
        _objective,
        {"x": Float(-1, 1)},
        n_trials=n,
        study_name="conveyor-tune",
        sampler=optuna.samplers.RandomSampler(0),
        workspace=ws,
    )
    return time.perf_counter() - start


def main() -> None:
    """Run the comparison once and print a table."""
    console = Console()
    n = _trials()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-tune-") as tmp:
        root = Path(tmp) / "project"
        init_project(root, name="bench")
        with Workspace.open(root) as ws:
            alone = bench_optuna_alone(ws, n)
            through = bench_conveyor_tune(ws, n)
    table = Table(title=f"Optuna trials/s, {n} trials, trivial objective, SQLite (same file)")
    table.add_column("how")
    table.add_column("seconds", justify="right")
    table.add_column("trials/s", justify="right")
    table.add_column("ms/trial", justify="right")
    table.add_column("vs Optuna alone", justify="right")
    for label, seconds in (("Optuna alone (RDBStorage)", alone), ("conveyor.tune", through)):
        table.add_row(
            label,
            f"{seconds:.2f}",
            f"{n / seconds:,.0f}",
            f"{1000 * seconds / n:.1f}",
            f"{alone / seconds:.2f}x",
        )
    console.print(table)


if __name__ == "__main__":
    main()
