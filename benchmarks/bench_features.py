"""Point-in-time join speed: conveyor's DuckDB ASOF join beside pandas, DuckDB alone and Feast.

Data (scaled by ``CONVEYOR_BENCH_SCALE``): a feature view of 10,000,000 rows over 100,000
entities (``user_id``), each row a timestamp within one year and 10 float features, and an
entity frame of 1,000,000 rows (random entities and times), written to Parquet once.
Each engine runs in its own process, which reports the wall time of reading the data and
of the join, and its peak resident memory (``ru_maxrss``):

- conveyor: ``point_in_time_join`` (checks, ties to the last row, result in the entity
  frame's order, as a pandas frame);
- pandas: ``merge_asof`` with ``by="user_id"``, both frames sorted by time first (a stable
  sort, so ties also go to the last row) and the result put back in the entity order;
- DuckDB alone: one plain ``ASOF LEFT JOIN`` over the same Arrow tables, no checks, no
  tie rule, the result in whatever order DuckDB gives it, as a pandas frame;
- Feast's local offline store (``offline_store: file``): ``get_historical_features``
  (``benchmarks/feast_offline.py`` in ``benchmarks/.venvs/feast``, ``pip install feast``
  on first use; skipped when that fails or with ``CONVEYOR_BENCH_BASELINES=0``). Feast
  reads the Parquet file itself, so it is compared on read + join. It runs at
  ``CONVEYOR_BENCH_FEAST_SCALE`` (default: the scale, at most 0.1), with conveyor measured
  again on that same smaller data beside it: Feast's Dask join first pairs every entity
  row with every view row of its entity (100 rows each here), so its memory grows with
  both sizes (2.8 GB at 0.1, 7.9 GB at 0.3; some 26 GB at full scale, more than many
  machines have).
  Feast drops the entity rows that get no value (they are kept, with missing values, by
  the others), hence its rows column.

"peak MB above data" is how far the process's high-water mark rose during the join
(0: the join stayed below the peak of loading the data). Each of conveyor, pandas and
DuckDB runs ``CONVEYOR_BENCH_ROUNDS`` times (default 2), in
turn, and its fastest run is shown: the machine may be busy with other work. The rows and
checksum columns (sum of all feature values joined) show that the engines agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from benchmarks import external_baselines, scale

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / "feast"
FEATURES = [f"f{i}" for i in range(10)]
YEAR_S = 365 * 86_400
T0_US = 1_704_067_200_000_000  # 2024-01-01 UTC

_MEASURE = r"""
import json, resource, sys, time
import pandas as pd
import pyarrow.parquet as pq
view_path, entities_path, which = sys.argv[1:4]
features = [f"f{i}" for i in range(10)]
if which == "conveyor":
    from conveyor.features._offline import ViewTable, point_in_time_join
else:
    import duckdb
start = time.perf_counter()
view = pq.read_table(view_path)
entity_df = pd.read_parquet(entities_path)
if which == "pandas":
    view_df = view.to_pandas()
    del view
read = time.perf_counter() - start
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if which == "conveyor":
    table = ViewTable("user_stats", ("user_id",), "event_timestamp", None, tuple(features), view)
    result = point_in_time_join(entity_df, [table])
elif which == "pandas":
    left = entity_df.assign(_row=range(len(entity_df))).sort_values(
        "event_timestamp", kind="stable")
    right = view_df.sort_values("event_timestamp", kind="stable")
    result = pd.merge_asof(left, right, on="event_timestamp", by="user_id",
                           direction="backward", allow_exact_matches=True)
    result = result.sort_values("_row").drop(columns="_row")
else:
    con = duckdb.connect()
    con.register("v", view)
    con.register("e", entity_df)
    result = con.sql(
        "SELECT e.*, " + ", ".join(f"v.{f}" for f in features) + " FROM e ASOF LEFT JOIN v "
        "ON e.user_id = v.user_id AND e.event_timestamp >= v.event_timestamp").df()
    con.close()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"read": read, "seconds": seconds, "peak_mb": peak / 1024,
                  "above_mb": (peak - base) / 1024, "rows": len(result),
                  "checksum": float(result[features].sum().sum())}))
"""


def sizes(factor: float) -> tuple[int, int, int]:
    """``(view rows, entity rows, entities)`` at ``factor`` of the full size."""
    return (
        max(int(10_000_000 * factor), 10_000),
        max(int(1_000_000 * factor), 1_000),
        max(int(100_000 * factor), 100),
    )


def write_data(folder: Path, factor: float) -> tuple[Path, Path]:
    """The feature view and the entity frame as Parquet files in ``folder``."""
    view_rows, entity_rows, entities = sizes(factor)
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)

    def times(n: int) -> pa.Array:
        micros = T0_US + rng.integers(0, YEAR_S, n, dtype=np.int64) * 1_000_000
        return pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))

    view = pa.table(
        {
            "user_id": rng.integers(0, entities, view_rows, dtype=np.int64),
            "event_timestamp": times(view_rows),
            **{name: rng.random(view_rows) for name in FEATURES},
        }
    )
    view_path = folder / "user_stats.parquet"
    pq.write_table(view, view_path)
    del view
    entity = pa.table(
        {
            "user_id": rng.integers(0, entities, entity_rows, dtype=np.int64),
            "event_timestamp": times(entity_rows),
        }
    )
    entities_path = folder / "entities.parquet"
    pq.write_table(entity, entities_path)
    return view_path, entities_path


def _run(argv: list[str], timeout: float) -> dict[str, Any] | str:
    """The JSON line a measuring process prints, or why there is none."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return f"failed: {lines[-1] if lines else done.returncode}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(view: Path, entities: Path, which: str) -> dict[str, Any] | str:
    """One engine's join in a fresh process."""
    return _run([sys.executable, "-c", _MEASURE, str(view), str(entities), which], 3600)


def fastest(
    view: Path, entities: Path, engines: list[tuple[str, str]], rounds: int
) -> list[tuple[str, dict[str, Any] | str]]:
    """Each engine's fastest of ``rounds`` runs, the engines taking turns."""
    best: dict[str, dict[str, Any] | str] = {}
    for _ in range(rounds):
        for name, which in engines:
            result = measure(view, entities, which)
            previous = best.get(name)
            if not isinstance(previous, dict) or (
                isinstance(result, dict) and result["seconds"] < previous["seconds"]
            ):
                best[name] = result
    return [(name, best[name]) for name, _ in engines]


def feast_python(console: Console) -> str | None:
    """The Python of Feast's virtualenv, created on first use; None if that fails."""
    python = VENV / "bin" / "python"
    if python.exists():
        return str(python)
    console.print("Creating Feast's virtualenv (pip install feast; takes minutes, once)...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "feast"],
            check=True,
            timeout=1800,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] or [str(exc)]
        console.print(f"[yellow]pip install feast failed: {tail[0]}[/]")
        return None
    except (subprocess.SubprocessError, OSError) as exc:
        console.print(f"[yellow]Could not create Feast's virtualenv: {exc}[/]")
        return None
    return str(python)


def _table(title: str, rows: list[tuple[str, dict[str, Any] | str]], key: str) -> Table:
    table = Table(title=title)
    for column in (
        "engine",
        "read s",
        "join s",
        "read + join s",
        "peak MB",
        "peak MB above data",
        f"{'join' if key == 'seconds' else 'read + join'} vs conveyor",
        "rows",
        "checksum",
    ):
        table.add_column(column, justify="left" if column == "engine" else "right")
    reference = rows[0][1]
    for name, result in rows:
        if isinstance(result, str):
            table.add_row(name, "-", "-", "-", "-", "-", result, "-", "-")
            continue
        read = result.get("read")
        total = result["seconds"] + (read or 0.0)
        ratio = "-"
        if isinstance(reference, dict):
            mine = result["seconds"] if key == "seconds" else total
            base = reference["seconds"] + (reference.get("read") or 0.0 if key == "total" else 0.0)
            ratio = f"{mine / base:.2f}x"
        table.add_row(
            name,
            "-" if read is None else f"{read:.2f}",
            "-" if read is None else f"{result['seconds']:.2f}",
            f"{total:.2f}",
            f"{result['peak_mb']:,.0f}",
            f"{result['above_mb']:,.0f}",
            ratio,
            f"{result['rows']:,}",
            f"{result['checksum']:,.1f}",
        )
    return table


def main() -> None:
    """Run the join benchmark; print one table (and one beside Feast)."""
    console = Console(width=160)
    factor = scale()
    feast_factor = float(os.environ.get("CONVEYOR_BENCH_FEAST_SCALE", min(factor, 0.1)))
    view_rows, entity_rows, entities = sizes(factor)
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-features-") as tmp:
        folder = Path(tmp)
        view, entity = write_data(folder / "data", factor)
        engines = [
            ("conveyor point_in_time_join", "conveyor"),
            ("pandas merge_asof (incl. sorts)", "pandas"),
            ("DuckDB alone (plain ASOF JOIN)", "duckdb"),
        ]
        rows = fastest(view, entity, engines, int(os.environ.get("CONVEYOR_BENCH_ROUNDS", "2")))
        console.print(
            _table(
                f"Point-in-time join: {entity_rows:,} entity rows x a view of {view_rows:,} "
                f"rows ({entities:,} entities, 10 float features)",
                rows,
                "seconds",
            )
        )
        python = feast_python(console) if external_baselines() else None
        if python is None:
            if external_baselines():
                console.print("[yellow]Feast is unavailable: its row is skipped.[/]")
            return
        if feast_factor != factor:
            view, entity = write_data(folder / "feast", feast_factor)
            view_rows, entity_rows, entities = sizes(feast_factor)
            ours = measure(view, entity, "conveyor")
        else:
            ours = rows[0][1]
        feast = _run(
            [python, str(HERE / "feast_offline.py"), str(view), str(entity), str(folder)],
            3600,
        )
        note = "" if feast_factor == factor else f" (scale {feast_factor:g}, not {factor:g})"
        console.print(
            _table(
                f"Feast's local offline store vs conveyor{note}: {entity_rows:,} entity rows "
                f"x a view of {view_rows:,} rows, Parquet read included",
                [("conveyor point_in_time_join", ours), ("Feast get_historical_features", feast)],
                "total",
            )
        )


if __name__ == "__main__":
    main()
