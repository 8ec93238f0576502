"""Monitoring that scales out: a large prediction log summarised partition by partition.

Data: ``PARTITIONS`` Parquet partitions in the prediction log's layout (``request_id``,
``at``, ``status``, 8 numeric and 2 categorical ``in_`` inputs, a class ``prediction``) of
``PARTITION_ROWS`` rows each: 100 x 1,000,000 = 100,000,000 rows at ``CONVEYOR_BENCH_SCALE=1``
(30,000,000 at 0.3; smaller partitions below 0.1).
To keep disk use and set-up time small, ``DISTINCT`` distinct partition files are written
(half of them with two shifted features) and the log lists each of them several times:
every listed partition is read and decoded again, as a log of distinct files would be (from
the page cache here). 0.1 % of the rows carry a label.

Measured, each in its own process (wall time and peak resident memory, ``ru_maxrss``, of
that process; Ray's workers are separate processes and their peak is reported separately):

* the partitioned engine on the whole log on 1 core and on 2 cores (the process pinned to
  that many CPUs with ``sched_setaffinity``, pyarrow's thread pool sized to match, one
  summarising thread per core), and on a local Ray instance (``ray.init(num_cpus=2)``):
  rows per second and the speed-up over 1 core. Pinning matters: unpinned, "1 thread"
  still decodes Parquet on every core through pyarrow's own pool, which hides the scaling;
* the baseline, in the same run: the single-pass engine (:func:`assess_window`, the whole
  window as one pandas frame) on the first ``BASELINE_PARTITIONS`` partitions, beside the
  partitioned engine (1 thread) on the same partitions, with the reports' verdicts and
  largest score difference.

Nothing is asserted; the load average is printed beside the figures (2 shared cores).
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
PARTITION_ROWS = min(1_000_000, max(int(10_000_000 * SCALE), 20_000))
PARTITIONS = max(int(100 * SCALE), 2)
DISTINCT = min(PARTITIONS, 8)
BASELINE_PARTITIONS = min(PARTITIONS, 3)
NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = ["c0", "c1"]
LABEL_EVERY = 1000

_MEASURE = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from bench_monitoring_scale import measure
print(json.dumps(measure(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
"""


def _write_partitions(folder: Path) -> list[Path]:
    """Write ``DISTINCT`` partition files; return the log's partition list (cycling them)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = []
    start = 1_767_225_600_000_000  # 2026-01-01 in microseconds
    for index in range(DISTINCT):
        rng = np.random.default_rng(index)
        shifted = index % 2 == 1
        rows = PARTITION_ROWS
        ids = pc.binary_join_element_wise(
            f"p{index}", pc.cast(pa.array(np.arange(rows)), pa.string()), "-"
        )
        columns = {
            "request_id": ids,
            "at": pa.array(start + index * rows + np.arange(rows), pa.timestamp("us", tz="UTC")),
            "status": pa.array(np.where(np.arange(rows) % 997 == 0, "error", "ok")),
        }
        for position, name in enumerate(NUMERIC):
            values = rng.normal(0.5 if shifted and position < 2 else 0.0, 1.0, rows)
            columns[f"in_{name}"] = pa.array(values)
        for name in CATEGORICAL:
            choice = rng.choice(["red", "green", "blue", "grey"], size=rows, p=[0.4, 0.3, 0.2, 0.1])
            columns[f"in_{name}"] = pa.array(choice).dictionary_encode().cast(pa.string())
        columns["prediction"] = pa.array(rng.integers(0, 2, rows))
        path = folder / f"part-{index}.parquet"
        pq.write_table(pa.table(columns), path, compression="zstd")
        files.append(path)
    return [files[i % DISTINCT] for i in range(PARTITIONS)]


def _reference_profile(folder: Path) -> Path:
    import numpy as np
    import pyarrow as pa

    from conveyor.data import compute_profile

    rng = np.random.default_rng(1000)
    rows = 200_000
    table = {name: rng.normal(size=rows) for name in NUMERIC}
    for name in CATEGORICAL:
        table[name] = rng.choice(
            ["red", "green", "blue", "grey"], size=rows, p=[0.4, 0.3, 0.2, 0.1]
        )
    profile = compute_profile(pa.table(table))
    path = folder / "profile.json"
    path.write_text(json.dumps(profile), encoding="utf-8")
    return path


def measure(folder: str, which: str, partitions: int) -> dict[str, object]:
    """Run one measurement in this process (called in a fresh interpreter)."""
    import resource

    import pyarrow.parquet as pq

    from conveyor.config import MonitoringConfig
    from conveyor.monitoring._assess import assess_window
    from conveyor.monitoring._scaled import assess_partitioned, plan_window
    from conveyor.monitoring._summarise import summarise_window
    from conveyor.predictions._parquet import to_frame
    from conveyor.predictions._window import Window

    root = Path(folder)
    listed = json.loads((root / "partitions.json").read_text(encoding="utf-8"))[:partitions]
    profile = json.loads((root / "profile.json").read_text(encoding="utf-8"))
    labels = json.loads((root / "labels.json").read_text(encoding="utf-8"))
    config = MonitoringConfig(drift_share=0.2)
    features = NUMERIC + CATEGORICAL
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    workers = None
    if which == "single_pass":
        import pandas as pd

        frame = pd.concat([to_frame(pq.read_table(path)) for path in listed], ignore_index=True)
        frame = frame.sort_values(["at", "request_id"], kind="stable", ignore_index=True)
        frame["label"] = pd.Series(frame["request_id"].map(labels), dtype=object)
        body = assess_window(frame, profile, features=features, config=config)
    else:
        executor, _, count = which.partition(":")
        workers = int(count)
        if executor == "cores":
            import pyarrow as pa

            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:workers])
            pa.set_cpu_count(workers)
            executor = "threads"
        if executor == "ray":
            import ray

            os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            started = time.perf_counter()  # the cluster's start is not the summary's work
        part = summarise_window(
            lambda path: Path(path).read_bytes(),
            [(path, True) for path in listed],
            Window(),
            plan_window(profile, features, None),
            labels,
            executor=executor,
            workers=workers,
        )
        body = assess_partitioned(part, profile, features=features, config=config)
    seconds = time.perf_counter() - started
    worker_rss = None
    if which.startswith("ray"):
        worker_rss = _ray_workers_peak_mib()
    scores = {name: entry["score"] for name, entry in body["drift"]["features"].items()}
    return {
        "which": which,
        "rows": body["rows"],
        "seconds": seconds,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "startup_mib": before / 1024,
        "ray_worker_peak_mib": worker_rss,
        "verdict": body["verdict"],
        "drifted": body["drift"]["drifted"],
        "scores": scores,
        "labels": body["labelled_rows"],
    }


def _ray_workers_peak_mib() -> float | None:
    """The largest peak resident size of this Ray session's worker processes (Linux)."""
    import psutil

    peaks = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if "ray::" not in " ".join(process.info.get("cmdline") or []):
            continue
        try:
            status = Path(f"/proc/{process.pid}/status").read_text(encoding="utf-8")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks) if peaks else None


def _run(folder: Path, which: str, partitions: int) -> dict[str, object]:
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    if which.startswith("ray") and Path("/tmp").is_dir():
        # Ray keeps Unix sockets under TMPDIR, whose paths are limited to 107 bytes.
        env["TMPDIR"] = "/tmp"
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, here, str(folder), which, str(partitions)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"measuring {which} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-monitor-scale-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        listed = _write_partitions(folder)
        (folder / "partitions.json").write_text(json.dumps([str(p) for p in listed]))
        _reference_profile(folder)
        labels = {
            f"p{i}-{j}": j % 2
            for i in range(DISTINCT)
            for j in range(0, PARTITION_ROWS, LABEL_EVERY)
        }
        (folder / "labels.json").write_text(json.dumps(labels))
        console.print(f"data written in {time.perf_counter() - started:.1f} s")
        load = os.getloadavg()
        runs = {which: _run(folder, which, PARTITIONS) for which in _EXECUTORS}
        baseline = {
            which: _run(folder, which, BASELINE_PARTITIONS)
            for which in ("single_pass", "threads:1")
        }
        load_after = os.getloadavg()
    _report(console, runs, baseline, load, load_after)


def _executors() -> tuple[str, ...]:
    """1 and 2 pinned cores where the machine has 2, and Ray on 2 CPUs."""
    if len(os.sched_getaffinity(0)) < 2:
        return ("cores:1", "ray:1")
    return ("cores:1", "cores:2", "ray:2")


_EXECUTORS = _executors()


def _report(console: Console, runs: dict, baseline: dict, load: tuple, load_after: tuple) -> None:
    one = runs["cores:1"]["seconds"]
    table = Table(
        title=f"Monitoring {PARTITIONS * PARTITION_ROWS:,} logged rows partition by partition"
    )
    for column in (
        "executor",
        "rows",
        "seconds",
        "rows/s",
        "speed-up vs 1 core",
        "peak RSS MiB (at start)",
        "verdict",
    ):
        table.add_column(column)
    for which, result in runs.items():
        rss = f"{result['maxrss_mib']:.0f} ({result['startup_mib']:.0f})"
        if result.get("ray_worker_peak_mib"):
            rss += f" (+ worker {result['ray_worker_peak_mib']:.0f})"
        table.add_row(
            which,
            f"{result['rows']:,}",
            f"{result['seconds']:.1f}",
            f"{result['rows'] / result['seconds']:,.0f}",
            f"{one / result['seconds']:.2f}x",
            rss,
            str(result["verdict"]),
        )
    console.print(table)
    single, parts = baseline["single_pass"], baseline["threads:1"]
    gap = max(abs(single["scores"][k] - parts["scores"][k]) for k in single["scores"])
    base = Table(
        title=f"Baseline: {BASELINE_PARTITIONS * PARTITION_ROWS:,} rows, single pass vs partitions"
    )
    for column in ("engine", "seconds", "peak RSS MiB", "verdict", "drifted"):
        base.add_column(column)
    for name, result in (("single pass (whole frame)", single), ("partitioned, 1 thread", parts)):
        base.add_row(
            name,
            f"{result['seconds']:.1f}",
            f"{result['maxrss_mib']:.0f}",
            str(result["verdict"]),
            ", ".join(result["drifted"]),
        )
    console.print(base)
    console.print(
        f"partitioned / single pass: {single['seconds'] / parts['seconds']:.2f}x faster, "
        f"{single['maxrss_mib'] / parts['maxrss_mib']:.1f}x less peak memory; largest score "
        f"difference {gap:.2e}; load average {load[0]:.2f} before, {load_after[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
