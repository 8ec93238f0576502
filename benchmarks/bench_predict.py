"""Offline batch scoring: ``conveyor predict`` on a large Parquet file.

Data: ``ROWS`` rows (1,000,000 at ``CONVEYOR_BENCH_SCALE=1``, at least 20,000) of 6 numeric
columns (5 % missing) and 2 string columns, an ``id`` column, in row groups of
``ROW_GROUP`` rows; the model is a scikit-learn pipeline (imputation, one-hot encoding,
logistic regression) registered in a fresh workspace.

Measured, each in its own process (wall time and peak resident memory, ``VmHWM``):

* the baseline, in the same run: ``pandas.read_parquet`` of the whole file, the registered
  model's own ``predict`` (no input checks) and ``DataFrame.to_parquet``, which holds
  every row in memory at once;
* :func:`conveyor.serving.predict_file` locally, batches of ``BATCH_ROWS`` rows, every
  batch checked like a server request;
* the same on a local Ray instance (``ray.init(num_cpus=2)``, one actor per CPU scoring
  row groups); the peak is the driver's (it joins the parts); each actor holds one batch
  and the model, like the local run.

"At start" is the peak after importing conveyor and the scikit-learn flavor's
loader (``skops.io``, whose import alone peaks at about 600 MiB): the same fixed cost for
all three ways. "Growth" is the peak above it: what scoring the file cost.

The predictions of the three are compared (they must be equal). Nothing is asserted; the
load average is printed beside the figures (2 shared cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

SCALE = float(os.environ.get("CONVEYOR_BENCH_SCALE", "1"))
ROWS = max(int(1_000_000 * SCALE), 20_000)
ROW_GROUP = max(ROWS // 10, 10_000)
BATCH_ROWS = 50_000
NUMERIC = [f"n{i}" for i in range(6)]
CATEGORICAL = ["region", "plan"]

_MEASURE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from bench_predict import measure
print(json.dumps(measure(sys.argv[2], sys.argv[3])))
"""


def _write_data(folder: Path) -> Path:
    """Write the input file and register ``scorer@1`` in a workspace under ``folder``."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from conveyor.workspace import Workspace

    rng = np.random.default_rng(7)
    data: dict[str, object] = {"id": np.arange(ROWS, dtype=np.int64)}
    for name in NUMERIC:
        values = rng.normal(size=ROWS)
        values[rng.random(ROWS) < 0.05] = np.nan
        data[name] = values
    data["region"] = rng.choice(["north", "south", "east", "west"], ROWS)
    data["plan"] = rng.choice(["free", "pro", "team"], ROWS)
    frame = pd.DataFrame(data)
    path = folder / "input.parquet"
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=ROW_GROUP
    )
    x = frame.drop(columns=["id"])
    train = x.iloc[:20_000]
    y = (np.nan_to_num(train["n0"]) + (train["plan"] == "pro") > 0.5).astype(int)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            (SimpleImputer(), NUMERIC),
        ),
        LogisticRegression(max_iter=500),
    ).fit(train, y)
    example = x.iloc[:50].copy()
    example.loc[0, NUMERIC] = np.nan  # every numeric input nullable
    with Workspace.open(folder / "ws") as ws:
        ws.models.register("scorer", model, input_example=example)
    return path


def measure(folder: str, which: str) -> dict[str, object]:
    """Score the input one way in this process; wall time and peak RSS."""
    from conveyor.workspace import Workspace

    root = Path(folder)
    source = root / "input.parquet"
    output = root / f"out-{which}.parquet"
    import skops.io  # noqa: F401 - the sklearn flavor's loader; its import alone peaks at ~600 MiB

    before = _peak_mib()  # after it: the same fixed cost for every way
    with Workspace.open(root / "ws") as ws:
        started = time.perf_counter()
        if which == "pandas":
            import pandas as pd

            model = ws.models.load("scorer@1").predictor
            frame = pd.read_parquet(source)
            frame["prediction"] = model.predict(frame.drop(columns=["id"]))
            frame.to_parquet(output)
            rows = len(frame)
        else:
            from conveyor.serving import predict_file

            if which == "ray":
                import ray

                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            result = predict_file(
                ws,
                "scorer@1",
                source,
                output,
                batch_rows=BATCH_ROWS,
                keep=["id"],
                executor="ray" if which == "ray" else "local",
            )
            rows = result.rows
        seconds = time.perf_counter() - started
    return {
        "which": which,
        "rows": rows,
        "seconds": seconds,
        "maxrss_mib": _peak_mib(),
        "startup_mib": before,
    }


def _peak_mib() -> float:
    """This process's peak resident size (``VmHWM``: ``ru_maxrss`` keeps the parent's)."""
    status = Path("/proc/self/status").read_text(encoding="utf-8")
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _run(folder: Path, which: str) -> dict[str, object]:
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    if which == "ray" and Path("/tmp").is_dir():
        env["TMPDIR"] = "/tmp"  # Ray's Unix socket paths are limited to 107 bytes
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, here, str(folder), which],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        return {"which": which, "error": result.stderr.strip().splitlines()[-1:]}
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _same_predictions(folder: Path, runs: dict[str, dict[str, object]]) -> str:
    import pyarrow.parquet as pq

    outputs = {
        which: pq.read_table(folder / f"out-{which}.parquet", columns=["prediction"])
        for which, run in runs.items()
        if "error" not in run
    }
    if len(outputs) < 2:
        return "not compared"
    first = next(iter(outputs.values()))
    same = all(table.column(0).equals(first.column(0)) for table in outputs.values())
    return "equal" if same else "DIFFERENT"


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-predict-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        source = _write_data(folder)
        console.print(
            f"{ROWS:,} rows written ({source.stat().st_size / 1e6:.0f} MB Parquet, "
            f"{ROWS // ROW_GROUP} row groups) and model registered in "
            f"{time.perf_counter() - started:.1f} s"
        )
        load = os.getloadavg()
        runs = {which: _run(folder, which) for which in ("pandas", "local", "ray")}
        load_after = os.getloadavg()
        verdict = _same_predictions(folder, runs)
    _report(console, runs, verdict, load, load_after)


def _report(
    console: Console,
    runs: dict[str, dict[str, object]],
    verdict: str,
    load: tuple[float, ...],
    load_after: tuple[float, ...],
) -> None:
    base = runs["pandas"]
    table = Table(title=f"Scoring {ROWS:,} rows (batches of {BATCH_ROWS:,})")
    for column in (
        "way",
        "seconds",
        "rows/s",
        "vs pandas",
        "peak RSS MiB (at start)",
        "growth MiB",
        "growth vs pandas",
    ):
        table.add_column(column)
    labels = {
        "pandas": "pandas read + predict + write (baseline)",
        "local": "conveyor predict",
        "ray": "conveyor predict --ray (2 CPUs)",
    }
    for which, run in runs.items():
        if "error" in run:
            table.add_row(labels[which], "failed", str(run["error"]), "", "", "", "")
            continue
        seconds = float(run["seconds"])  # type: ignore[arg-type]
        rss = float(run["maxrss_mib"])  # type: ignore[arg-type]
        shown = f"{rss:.0f} ({float(run['startup_mib']):.0f})"  # type: ignore[arg-type]
        growth = rss - float(run["startup_mib"])  # type: ignore[arg-type]
        speed = growth_ratio = ""
        if "error" not in base:
            speed = f"{float(base['seconds']) / seconds:.2f}x"  # type: ignore[arg-type]
            base_growth = float(base["maxrss_mib"]) - float(base["startup_mib"])  # type: ignore[arg-type]
            growth_ratio = f"{growth / base_growth:.2f}x" if base_growth > 0 else "-"
        table.add_row(
            labels[which],
            f"{seconds:.1f}",
            f"{int(run['rows']) / seconds:,.0f}",  # type: ignore[call-overload]
            speed,
            shown,
            f"{growth:.0f}",
            growth_ratio,
        )
    console.print(table)
    console.print(f"Predictions of the three ways: {verdict}")
    console.print(
        f"Load average before/after: {load[0]:.2f} / {load_after[0]:.2f} (2 shared cores)"
    )


if __name__ == "__main__":
    main()
