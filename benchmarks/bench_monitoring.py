"""Monitoring speed and detection quality: conveyor's drift report vs Evidently's DataDriftPreset.

Data: a reference and a window of 1,000,000 rows each (scaled by ``CONVEYOR_BENCH_SCALE``)
with 20 numeric and 5 categorical columns; the window shifts 3 numeric and 1 categorical
column. Both are written to Parquet once. conveyor profiles the reference once (what
``data add`` stores; timed separately) and then assesses the window against that stored
profile: one pass over the window. Evidently (``benchmarks/.venvs/evidently``: ``pip
install evidently 'pandas<3'``, created on first use; skipped when that fails) runs
``DataDriftPreset`` on the two full frames. Each measurement runs in its own process and
reports wall time and peak resident memory above the process's footprint once the data is
loaded, next to the window's in-memory size.

Detection quality: an error stream whose error rate rises from 10% to 30% at a known row;
for ADWIN and Page-Hinkley, the delay to the first detection after the change and false
alarms per 100,000 rows before it, over several seeds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks import external_baselines

SCALE = float(os.environ.get("CONVEYOR_BENCH_SCALE", "1"))
ROWS = max(int(1_000_000 * SCALE), 10_000)
NUMERIC = [f"n{i}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
VENV = Path(__file__).resolve().parent / ".venvs" / "evidently"
STREAM_ROWS = max(int(200_000 * SCALE), 20_000)
SEEDS = 5

_MEASURE = r"""
import json, resource, sys, time
import pandas as pd
ref_path, win_path, profile_path, which = sys.argv[1:5]
window = pd.read_parquet(win_path)
if which == "evidently":
    reference = pd.read_parquet(ref_path)
else:  # imports are not part of the measured work
    import scipy.interpolate, scipy.spatial.distance, scipy.special, scipy.stats
    from conveyor.data import compute_profile
    from conveyor.monitoring import assess_drift
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if which == "conveyor":
    profile = json.load(open(profile_path))
    drift, quality = assess_drift(window, profile)
    drifted = drift["drifted"]
elif which == "profile":
    import pyarrow.parquet as pq
    profile = compute_profile(pq.read_table(ref_path))
    json.dump(profile, open(profile_path, "w"))
    drifted = []
else:
    try:
        from evidently import Report
        from evidently.presets import DataDriftPreset
        result = Report([DataDriftPreset()]).run(window, reference)
    except ImportError:
        from evidently.report import Report
        from evidently.metric_preset import DataDriftPreset
        report = Report(metrics=[DataDriftPreset()])
        report.run(reference_data=reference, current_data=window)
        result = report.as_dict()
    drifted = None
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_mb": (peak - base) / 1024,
                  "window_mb": window.memory_usage(deep=True).sum() / 2**20,
                  "drifted": drifted}))
"""


def _write_data(folder: Path) -> tuple[Path, Path]:
    import pandas as pd

    paths = []
    for name, seed, shift in (("reference", 0, False), ("window", 1, True)):
        rng = np.random.default_rng(seed)
        columns: dict[str, object] = {}
        for i, col in enumerate(NUMERIC):
            values = rng.normal(loc=i % 5, scale=1 + i % 3, size=ROWS)
            if shift and i < 3:
                values = values + 0.5 * (1 + i % 3)
            columns[col] = values
        for i, col in enumerate(CATEGORICAL):
            levels = [f"{col}_{k}" for k in range(4 + 3 * i)]
            p = np.linspace(1, 2, len(levels))
            if shift and i == 0:
                p = p[::-1] ** 3
            columns[col] = rng.choice(levels, size=ROWS, p=p / p.sum())
        path = folder / f"{name}.parquet"
        pd.DataFrame(columns).to_parquet(path)
        paths.append(path)
    return paths[0], paths[1]


def _evidently_python() -> str | None:
    python = VENV / "bin" / "python"
    if python.exists():
        return str(python)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3", "pyarrow"],
            check=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return str(python)


def _measure(python: str, ref: Path, win: Path, profile: Path, which: str) -> dict[str, object]:
    out = subprocess.run(
        [python, "-c", _MEASURE, str(ref), str(win), str(profile), which],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def detection_quality() -> list[tuple[str, float, float, int]]:
    """``(detector, median delay in rows, false alarms per 100k rows, missed)`` per detector."""
    from conveyor.monitoring import detect_changes

    change = STREAM_ROWS // 2
    delays: dict[str, list[int]] = {}
    false: dict[str, int] = {}
    missed: dict[str, int] = {}
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        rates = np.where(np.arange(STREAM_ROWS) < change, 0.1, 0.3)
        stream = (rng.random(STREAM_ROWS) < rates).astype(float)
        for name, found in detect_changes(stream).items():
            false[name] = false.get(name, 0) + sum(1 for i in found if i < change)
            after = [i - change for i in found if i >= change]
            if after:
                delays.setdefault(name, []).append(after[0])
            else:
                missed[name] = missed.get(name, 0) + 1
    rows_before = change * SEEDS
    return [
        (
            name,
            float(np.median(delays.get(name, [np.nan]))),
            false.get(name, 0) / rows_before * 100_000,
            missed.get(name, 0),
        )
        for name in sorted(false)
    ]


def main() -> None:
    """Run the drift benchmark and the detection-quality benchmark; print both tables."""
    console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-monitoring-") as tmp:
        folder = Path(tmp)
        ref, win = _write_data(folder)
        profile = folder / "profile.json"
        rows = [
            (
                "conveyor: profile reference (once, at data add)",
                _measure(sys.executable, ref, win, profile, "profile"),
            )
        ]
        rows.append(
            (
                "conveyor: drift vs stored profile",
                _measure(sys.executable, ref, win, profile, "conveyor"),
            )
        )
        python = _evidently_python() if external_baselines() else None
        if python is None:
            console.print("[yellow]Evidently venv unavailable: its row is skipped.[/]")
        else:
            rows.append(
                ("Evidently DataDriftPreset", _measure(python, ref, win, profile, "evidently"))
            )
    table = Table(title=f"Drift report: {ROWS:,} rows x 20 numeric + 5 categorical")
    for column in ("tool", "seconds", "peak MB above data", "window MB", "drifted"):
        table.add_column(column)
    for name, result in rows:
        drifted = result.get("drifted")
        table.add_row(
            name,
            f"{result['seconds']:.2f}",
            f"{result['peak_mb']:.0f}",
            f"{result['window_mb']:.0f}",
            "-" if drifted is None else ", ".join(map(str, drifted)) or "none",
        )
    console.print(table)
    quality = Table(
        title=f"Concept drift: error rate 10% -> 30% at row {STREAM_ROWS // 2:,}, {SEEDS} seeds"
    )
    for column in ("detector", "median delay (rows)", "false alarms / 100k rows", "missed"):
        quality.add_column(column)
    for name, delay, false, missed in detection_quality():
        quality.add_row(name, f"{delay:.0f}", f"{false:.2f}", str(missed))
    console.print(quality)


if __name__ == "__main__":
    main()
