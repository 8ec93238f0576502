"""What prediction logging costs at 100-row requests: in-process and through a real server.

Two measurements in the same run, each with its own baseline:

* In process: ``Predictor.log`` queues one columnar ``PredictionBatch`` per request; the
  per-row path it replaced (``Rows.records()``, one ``PredictionRecord`` and one
  ``submit`` per row, kept below as ``_log_per_row``) is measured beside it on the same
  logger over a real prediction log (SQLite and a local artifact store). Figures: the
  request-path cost per request, and requests per second until everything is written.
* Through a server: a logistic regression on 8 numeric features served by conveyor
  (one uvicorn worker on 127.0.0.1, its own process) receives 100-row
  ``/invocations`` ``dataframe_split`` requests from wrk (one thread, 8 connections;
  the benchmark's own sequential client when wrk is missing), with prediction logging on
  and off. Both servers run at once and are measured in alternation (three rounds; the
  median is reported), the logging one drained before the next run. The logging cost is
  ``1 - on / off`` of the requests per second; the logger's counters (written, spilled,
  dropped) are read from ``/metrics`` at the end. On Linux the servers' CPU time per
  request is read from ``/proc`` around each run (the writer's drain included), split
  into the event loop's thread and the others (the logger's writer and spill threads):
  a figure the machine's load moves far less than requests per second.

Absolute figures move with the machine's load; compare the ratios measured in one run.
``CONVEYOR_BENCH_SCALE`` scales the request counts and durations.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks import _wrk, scale
from benchmarks._servers import free_port as _port
from benchmarks._servers import start as _start
from benchmarks._servers import stop as _stop

FEATURES = [f"f{i}" for i in range(8)]
ROWS = 100
IN_PROCESS_REQUESTS = max(int(2000 * scale()), 20)
HTTP_REQUESTS = max(int(1000 * scale()), 20)  # the own client's count, without wrk
SECONDS = _wrk.duration(5.0)
ROUNDS = 3  # on and off alternate, so a change in the machine's load hits both
WARMUP_SECONDS = _wrk.duration(1.0)

_REGISTER = r"""
import sys
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from conveyor.workspace import Workspace
rng = np.random.default_rng(0)
x = pd.DataFrame(rng.normal(size=(2000, 8)), columns=[f"f{i}" for i in range(8)])
y = (x["f0"] + 0.5 * x["f1"] > 0).astype(int)
with Workspace.open(sys.argv[1]) as ws:
    ws.models.register("lr", LogisticRegression().fit(x, y), input_example=x.head(50))
"""

_SERVER = r"""
import sys
from pathlib import Path
from conveyor.serving import ServingSettings
from conveyor.serving._launch import serve
root, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
serve(Path(root), "lr@1", port=port, settings=ServingSettings(log_predictions=log == "1"))
"""


# -- in process ------------------------------------------------------------------------------


def _log_per_row(
    logger: Any, model: Any, request_id: str, rows: Any, predictions: list[Any]
) -> None:
    """The request path before batches: one dict and one record per row, each submitted."""
    from conveyor.predictions import PredictionRecord

    at = datetime.now(UTC)
    for i, (inputs, prediction) in enumerate(zip(rows.records(), predictions, strict=True)):
        logger.submit(
            PredictionRecord(
                request_id=f"{request_id}:{i}",
                at=at,
                model=model.name,
                version=model.version,
                inputs=inputs,
                prediction=prediction,
                latency_ms=1.0,
                environment=None,
                variant=None,
                revision=None,
            )
        )


def _in_process(root: Path) -> list[tuple[str, float, float, int]]:
    """``(path, request-path µs per request, requests/s until written, rows written)``."""
    from conveyor.predictions import PredictionLogger
    from conveyor.serving import ServingSettings
    from conveyor.serving._inputs import Rows
    from conveyor.serving._metrics import ServerMetrics
    from conveyor.serving._predict import Predictor
    from conveyor.workspace import Workspace

    rng = np.random.default_rng(1)
    data = rng.normal(size=(ROWS, len(FEATURES))).round(6)
    rows = Rows(columns={f: data[:, i].tolist() for i, f in enumerate(FEATURES)}, n=ROWS)
    predictions = [int(v) for v in rng.integers(0, 2, ROWS)]
    model = SimpleNamespace(name="lr", version=1, variant="", revision="")
    results: list[tuple[str, float, float, int]] = []
    with Workspace.open(root) as ws:
        for label in ("per-row records (before)", "one batch per request"):
            # A queue that holds the whole burst: every row is written, none spilled, so
            # "until written" is the writer's own pace.
            logger = PredictionLogger(
                ws.predictions,
                spill_dir=root / f"spill-{len(results)}",
                max_queue=IN_PROCESS_REQUESTS * ROWS,
            )
            predictor = Predictor(ServingSettings(), ServerMetrics(logger.stats), logger)
            before = ws.predictions.count(model="lr")
            started = time.perf_counter()
            for i in range(IN_PROCESS_REQUESTS):
                if label.startswith("per-row"):
                    _log_per_row(logger, model, f"r{i}", rows, predictions)
                else:
                    predictor.log(model, f"r{i}", rows, predictions, 1.0)  # type: ignore[arg-type]
            queued = time.perf_counter() - started
            logger.flush()
            total = time.perf_counter() - started
            logger.close()
            written = ws.predictions.count(model="lr") - before
            results.append(
                (label, queued / IN_PROCESS_REQUESTS * 1e6, IN_PROCESS_REQUESTS / total, written)
            )
    return results


# -- through a server ------------------------------------------------------------------------


def _payload() -> bytes:
    data = np.random.default_rng(1).normal(size=(ROWS, len(FEATURES))).round(6).tolist()
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": data}}).encode()


def _load(url: str, body: bytes, wrk: str | None) -> tuple[float, float]:
    """Requests per second at 100 rows (wrk at 8 connections, else a sequential client),
    and the number of requests sent in all, warm-up included."""
    if wrk is not None:
        warm = _wrk.run(wrk, url, body, 8, WARMUP_SECONDS)
        result = _wrk.run(wrk, url, body, 8, SECONDS)
        if result.errors:
            raise RuntimeError(f"{result.errors} requests failed at {url}")
        return result.rps, warm.rps * WARMUP_SECONDS + result.rps * SECONDS
    headers = {"content-type": "application/json"}
    with httpx.Client(timeout=30) as client:
        for _ in range(20):
            client.post(url, content=body, headers=headers).raise_for_status()
        started = time.perf_counter()
        for _ in range(HTTP_REQUESTS):
            client.post(url, content=body, headers=headers).raise_for_status()
        return HTTP_REQUESTS / (time.perf_counter() - started), HTTP_REQUESTS + 20.0


def _thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of process ``pid`` (empty off Linux)."""
    found: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        found[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _cpu_split(pid: int, before: dict[int, float], after: dict[int, float]) -> tuple[float, float]:
    """CPU seconds between two samples: ``(event loop's thread, every other thread)``."""
    spent = {tid: cpu - before.get(tid, 0.0) for tid, cpu in after.items()}
    main = spent.pop(pid, 0.0)
    return main, sum(spent.values())


def _logger_counters(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = {}
    for name in ("written", "spilled", "dropped", "queue_depth"):
        pattern = rf"^conveyor_prediction_log_{name}(?:_total)?(?:{{[^}}]*}})?\s+(\S+)$"
        match = re.search(pattern, text, re.MULTILINE)
        found[name] = float(match.group(1)) if match else float("nan")
    return found


def _drained(base: str) -> dict[str, float]:
    """The logger's counters once its queue is empty (waits up to a minute)."""
    deadline = time.monotonic() + 60
    while True:
        counters = _logger_counters(base)
        if counters["queue_depth"] == 0 or time.monotonic() > deadline:
            return counters
        time.sleep(0.2)


class Served(NamedTuple):
    """One server's figures: median requests/s, each run's, logger counters, CPU/request."""

    rps: float
    runs: list[float]
    counters: dict[str, float]
    #: CPU µs per request of the event loop's thread and of the other threads (NaN off Linux).
    main_us: float
    background_us: float


def _through_server(root: Path, here: Path, wrk: str | None) -> dict[str, Served]:
    """Both servers up at once, measured in alternation."""
    body = _payload()
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        for label, log in (("logging off", "0"), ("logging on", "1")):
            port = _port()
            base = f"http://127.0.0.1:{port}"
            argv = [sys.executable, "-c", _SERVER, str(root), str(port), log]
            proc = _start(argv, f"{base}/v2/health/ready", here)
            if proc is not None:
                servers[label] = (base, proc)
        runs: dict[str, list[float]] = {label: [] for label in servers}
        cpu = {label: [0.0, 0.0, 0.0] for label in servers}  # main s, other s, requests
        for _ in range(ROUNDS):
            for label, (base, proc) in servers.items():
                before = _thread_cpu(proc.pid)
                rps, sent = _load(f"{base}/invocations", body, wrk)
                runs[label].append(rps)
                if label == "logging on":
                    _drained(base)  # the writer's work counts; the next run starts idle
                main, other = _cpu_split(proc.pid, before, _thread_cpu(proc.pid))
                cpu[label] = [cpu[label][0] + main, cpu[label][1] + other, cpu[label][2] + sent]
        results = {}
        for label, (base, _proc) in servers.items():
            counters = _drained(base) if label == "logging on" else {}
            main, other, sent = cpu[label]
            known = main > 0 and sent > 0
            results[label] = Served(
                statistics.median(runs[label]),
                runs[label],
                counters,
                main / sent * 1e6 if known else math.nan,
                other / sent * 1e6 if known else math.nan,
            )
        return results
    finally:
        for _base, proc in servers.values():
            _stop(proc)


# -- report ----------------------------------------------------------------------------------


def main() -> None:
    """Measure the in-process and the HTTP logging cost in one run and print the tables."""
    console = Console(width=140)
    here = Path(__file__).resolve().parent.parent
    wrk, wrk_version = _wrk.find()
    console.print(f"Load generator: {wrk_version if wrk else 'own sequential client'}; "
                  f"load average (1, 5, 15 min): {os.getloadavg()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-logging-") as tmp:
        root = Path(tmp)
        subprocess.run([sys.executable, "-c", _REGISTER, str(root)], check=True, cwd=here)
        local = _in_process(root)
        served = _through_server(root, here, wrk)

    table = Table(title=f"Predictor.log in process, {ROWS}-row requests x {IN_PROCESS_REQUESTS}")
    for column in ("path", "request path µs/request", "requests/s until written", "rows written"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for label, micros, rps, written in local:
        table.add_row(label, f"{micros:,.0f}", f"{rps:,.0f}", f"{written:,}")
    console.print(table)
    if len(local) == 2:
        (_, old_us, old_rps, _), (_, new_us, new_rps, _) = local
        console.print(
            f"Batch vs per-row: request path {old_us / new_us:.1f}x cheaper, "
            f"{new_rps / old_rps:.1f}x the requests/s until written."
        )

    table = Table(title=f"Real uvicorn server, {ROWS}-row /invocations requests, median of runs")
    columns = ("server", "requests/s", "runs", "CPU µs/request (loop + other threads)",
               "written", "spilled", "dropped", "queue depth")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "server" else "right")
    for label, figures in served.items():
        counters = figures.counters
        counts = [f"{counters[k]:,.0f}" if counters else "-" for k in
                  ("written", "spilled", "dropped", "queue_depth")]  # fmt: skip
        shown = " / ".join(f"{r:,.0f}" for r in figures.runs)
        cpu = f"{figures.main_us:,.0f} + {figures.background_us:,.0f}"
        table.add_row(label, f"{figures.rps:,.0f}", shown, cpu, *counts)
    console.print(table)
    if "logging on" in served and "logging off" in served:
        on, off = served["logging on"], served["logging off"]
        console.print(
            f"Logging on / off: {on.rps / off.rps:.2f}; logging cost "
            f"{100 * (1 - on.rps / off.rps):.0f} % of throughput (target: under 30 %)."
        )
        on_cpu, off_cpu = on.main_us + on.background_us, off.main_us + off.background_us
        if not math.isnan(on_cpu + off_cpu):
            console.print(
                f"Server CPU per request, logging on / off: {on_cpu:,.0f} / {off_cpu:,.0f} µs; "
                f"at the same CPU, logging costs {100 * (1 - off_cpu / on_cpu):.0f} % of "
                "throughput."
            )
    console.print(f"Load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
