"""Pipeline overhead.

A chain of 100 no-op steps (each takes an int and returns it plus one) run by the local
executor, beside a plain Python loop calling the same functions, and a fully cached re-run
of the same pipeline. Figures are milliseconds per step: the pipeline records every step
run in the metadata store (SQLite), stores every output in the artifact store and computes
cache keys; the cached re-run looks each result up and records each cache hit (the step
runs of cache hits are written in batches; sources are re-read only when their file
changed). The uncached run is the first in its process, so it also pays one-time
imports (materializers) and set-up.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from conveyor.pipelines import load_pipeline
from conveyor.workspace import Workspace, init_project

_CHAIN = """
from __future__ import annotations
from conveyor.pipelines import pipeline, step


@step
def bump(x: int) -> int:
    return x + 1


@pipeline
def chain(n: int = {n}) -> None:
    x = bump(0)
    for _ in range(n - 1):
        x = bump(x)
"""


#: What a cached step should cost at most (issue 18), in milliseconds.
CACHED_TARGET_MS = 2.0


def _steps() -> int:
    return max(10, int(100 * float(os.environ.get("CONVEYOR_BENCH_SCALE", "1.0"))))


def main() -> None:
    """Run the benchmark and print its table."""
    console = Console()
    n = _steps()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as folder:
        root = Path(folder) / "proj"
        init_project(root, name="bench")
        (root / "chain_flow.py").write_text(_CHAIN.format(n=n))
        chain = load_pipeline("chain_flow:chain", root)
        bump = chain.fn.__globals__["bump"]

        start = time.perf_counter()
        x = 0
        for _ in range(n):
            x = bump.fn(x)
        plain = time.perf_counter() - start

        with Workspace.open(root, search_parents=False) as ws:
            start = time.perf_counter()
            first = chain.run(ws, max_workers=1)
            fresh = time.perf_counter() - start
            start = time.perf_counter()
            second = chain.run(ws, max_workers=1)
            cached = time.perf_counter() - start
        assert first.status == second.status == "completed"
        assert all(s.status == "cached" for s in second.steps.values())

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    table = Table(
        title=f"pipeline of {n} no-op steps (local executor, SQLite; load average {load})"
    )
    for column in ("what", "total s", "ms/step"):
        table.add_column(column)
    for label, seconds in (
        ("plain Python loop (baseline)", plain),
        ("conveyor run, nothing cached", fresh),
        ("conveyor run, fully cached", cached),
    ):
        table.add_row(label, f"{seconds:.4f}", f"{seconds / n * 1000:.3f}")
    console.print(table)
    per_step = cached / n * 1000
    verdict = "met" if per_step < CACHED_TARGET_MS else "NOT met"
    console.print(f"cached step: {per_step:.2f} ms (target < {CACHED_TARGET_MS:.0f} ms: {verdict})")


if __name__ == "__main__":
    main()
