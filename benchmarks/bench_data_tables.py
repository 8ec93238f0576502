"""``conveyor data add`` of a large Parquet table: whole in memory vs streamed.

A Parquet table of about 200 MiB in Arrow memory at scale 1 (``CONVEYOR_BENCH_SCALE=5``
for about 1 GiB) with integers, integers with nulls, floats, low- and high-cardinality
strings, booleans and timestamps is added with ``conveyor data add`` in a new process,
twice in the same run: once with the streaming threshold raised above the table (the
whole-table path every table took before streaming) and once with the default threshold
(64 MiB, or a quarter of the table at small scales: the table is streamed one record
batch at a time). Each run reports seconds and
the process's peak resident size; the ratios compare streaming with the whole-table run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from conveyor.workspace import init_project

MIB = 1024 * 1024
#: Rows per generated batch (the file is written batch by batch up to the size target).
_ROWS_PER_BATCH = 250_000

# Runs the CLI in this process after setting the threshold, then prints the peak RSS.
_CLI = """
import json, resource, sys, time

from conveyor.cli._app import main
from conveyor.data import _tables

_tables.STREAM_BYTES = int(sys.argv[1])
start = time.perf_counter()
code = main(sys.argv[2:])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"code": code, "seconds": seconds, "peak": peak}))
"""


def _scale() -> float:
    return float(os.environ.get("CONVEYOR_BENCH_SCALE", "1.0"))


def _write_table(path: Path, target: int) -> tuple[int, int]:
    """A mixed-type Parquet table of about ``target`` Arrow bytes, written batch by batch."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    random = np.random.default_rng(7)
    islands = np.array(["Biscoe", "Dream", "Torgersen"])
    rows = written = 0
    writer: pq.ParquetWriter | None = None
    try:
        while written < target:
            n = _ROWS_PER_BATCH
            ids = np.arange(rows, rows + n)
            ring = pa.array(ids % 1000, mask=ids % 7 == 0)
            batch = pa.record_batch(
                {
                    "id": ids,
                    "ring": ring,
                    "mass": random.normal(4200.0, 800.0, n),
                    "island": islands[random.integers(0, 3, n)],
                    "tag": np.char.add("t-", (ids * 7919 % 1_000_003).astype(str)),
                    "tagged": ids % 3 == 0,
                    "measured": pa.array(
                        np.datetime64("2007-06-01") + (ids % 100_000).astype("timedelta64[s]")
                    ),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema, compression="snappy")
            writer.write_batch(batch)
            rows += n
            written += batch.nbytes
    finally:
        if writer is not None:
            writer.close()
    return rows, written


def _add(project: Path, source: Path, threshold: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CLI, str(threshold), "data", "add", "table", str(source)],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise RuntimeError(f"conveyor data add failed: {done.stdout}\n{done.stderr}")
    return result


def bench_large_table(work: Path, console: Console) -> None:
    target = max(int(200 * MIB * _scale()), 16 * MIB)
    source = work / "table.parquet"
    rows, arrow_bytes = _write_table(source, target)
    with source.open("rb") as fh:  # both runs read the file from the page cache
        while fh.read(64 * MIB):
            pass
    whole_project, stream_project = work / "whole", work / "stream"
    init_project(whole_project, name="bench-whole")
    init_project(stream_project, name="bench-stream")
    # The default threshold, lowered for small scales so that the table still streams.
    threshold = min(64 * MIB, arrow_bytes // 4)
    whole = _add(whole_project, source, 1 << 62)
    streamed = _add(stream_project, source, threshold)
    table = Table(
        title=f"conveyor data add of a {arrow_bytes / MIB:,.0f} MiB Parquet table "
        f"({rows:,} rows, {source.stat().st_size / MIB:,.0f} MiB on disk)"
    )
    table.add_column("path")
    table.add_column("seconds", justify="right")
    table.add_column("peak RSS (MiB)", justify="right")
    table.add_column("time vs whole", justify="right")
    table.add_column("memory vs whole", justify="right")
    streamed_name = f"streamed (threshold {threshold / MIB:,.0f} MiB)"
    for name, run in (("whole table in memory (before)", whole), (streamed_name, streamed)):
        table.add_row(
            name,
            f"{run['seconds']:.2f}",
            f"{run['peak'] / MIB:,.0f}",
            f"{run['seconds'] / whole['seconds']:.2f}x",
            f"{run['peak'] / whole['peak']:.2f}x",
        )
    console.print(table)


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        bench_large_table(Path(tmp), console)


if __name__ == "__main__":
    main()
