"""Tuning overhead: Optuna trials/s through ``conveyor.tune`` versus Optuna alone.

Both run the same trivial objective for the same number of trials on the same storage:
the workspace's SQLite metadata database (WAL), through Optuna's RDB storage. The
difference is what conveyor adds per trial: a child run with its ``objective`` metric
(kept in memory while the trial runs and written with other finished trials in one
batch) and the trial's ``conveyor_run_id`` user attribute (one Optuna write).

The two alternate for a few rounds (fresh studies each time) and the best round of each
is compared, so a burst of load from elsewhere on the machine does not decide the ratio.
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

ROUNDS = 3
#: How fast ``conveyor.tune`` should be at least, as a fraction of Optuna alone (issue 18).
TARGET_RATIO = 0.8


def _trials() -> int:
    return max(int(200 * float(os.environ.get("CONVEYOR_BENCH_SCALE", "1.0"))), 10)


def _objective(params: dict[str, Any]) -> float:
    return float(params["x"] ** 2)


def bench_optuna_alone(ws: Workspace, n: int, name: str = "optuna-alone") -> float:
    storage = open_storage(ws.store.engine, busy_timeout_s=30.0)
    try:
        with quiet_optuna():
            study = optuna.create_study(
                storage=storage, study_name=name, sampler=optuna.samplers.RandomSampler(0)
            )
            start = time.perf_counter()
            study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=n)
            return time.perf_counter() - start
    finally:
        close_storage(storage)


def bench_conveyor_tune(ws: Workspace, n: int, name: str = "conveyor-tune") -> float:
    start = time.perf_counter()
    tune(
        _objective,
        {"x": Float(-1, 1)},
        n_trials=n,
        study_name=name,
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
        alone_rounds: list[float] = []
        through_rounds: list[float] = []
        with Workspace.open(root) as ws:
            for round_ in range(ROUNDS):
                alone_rounds.append(bench_optuna_alone(ws, n, f"optuna-alone-{round_}"))
                through_rounds.append(bench_conveyor_tune(ws, n, f"conveyor-tune-{round_}"))
    alone, through = min(alone_rounds), min(through_rounds)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    table = Table(
        title=f"Optuna trials/s, {n} trials, trivial objective, SQLite (same file), "
        f"best of {ROUNDS} alternating rounds (load average {load})"
    )
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
    ratio = alone / through
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    console.print(
        f"conveyor.tune runs at {ratio:.2f}x Optuna alone (target >= {TARGET_RATIO}x: {verdict}); "
        f"rounds: Optuna {', '.join(f'{x:.2f}' for x in alone_rounds)} s, "
        f"conveyor {', '.join(f'{x:.2f}' for x in through_rounds)} s"
    )


if __name__ == "__main__":
    main()
