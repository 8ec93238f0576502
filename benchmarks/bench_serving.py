"""Prediction server speed: conveyor vs ``mlflow models serve`` vs a bare ASGI endpoint.

Each server runs in its own process on 127.0.0.1 with one uvicorn worker and is measured twice
in the same run: by wrk (Debian's package; see ``benchmarks/_wrk.py``), the reference load
generator, and by the benchmark's own asyncio client (see ``_Connection``), a minimal keep-alive
HTTP/1.1 sender that records every request's latency. Both run at concurrency 1 and 8 after a
warm-up (a short wrk burst at concurrency 8, or the own client when wrk is missing), so first
requests, lazy imports and caches are not in the figures. Models: a logistic regression and a
100-tree random forest on 8 numeric features, single-row and 100-row requests, the same
``/invocations`` ``dataframe_split`` payload for conveyor and MLflow. conveyor runs with
prediction logging on (the default) and off, and with micro-batching for single rows. MLflow
runs in its own virtualenv (``benchmarks/.venvs/mlflow-serve``: ``pip install mlflow-skinny
scikit-learn pandas skops uvicorn fastapi``, created on first use), fitting the same model on the
same data. The bare endpoint is a raw ASGI app returning a constant: the ceiling for a Python
server here. Absolute figures move 3-4x with the machine's load, so the load average and the
machine's facts are printed beside them; compare ratios measured in one run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks import _wrk, external_baselines, scale
from benchmarks._servers import free_port as _port
from benchmarks._servers import start as _start
from benchmarks._servers import stop as _stop
from benchmarks._wrk import Result

FEATURES = [f"f{i}" for i in range(8)]
REQUESTS = int(2000 * scale())
MLFLOW_REQUESTS = max(REQUESTS // 4, 100)
SECONDS = _wrk.duration(5.0)  # per wrk measurement
CLIENT_SECONDS = max(1.0, 3.0 * scale())  # caps the own client's time per measurement (slow models)
WARMUP_SECONDS = _wrk.duration(1.0)
VENV = Path(__file__).resolve().parent / ".venvs" / "mlflow-serve"

_FIT = r"""
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

def fit(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    import pandas as pd
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(8)])
    model = (LogisticRegression() if kind == "lr"
             else RandomForestClassifier(n_estimators=100, random_state=0))
    return model.fit(frame, y), frame
"""

_CONVEYOR_SERVER = (
    _FIT
    + r"""
import sys
from pathlib import Path
from conveyor.serving import ServingSettings
from conveyor.serving._launch import serve
root, ref, port, log, micro = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
settings = ServingSettings(log_predictions=log == "1", micro_batch=micro == "1")
serve(Path(root), ref, port=port, settings=settings)
"""
)

_CONVEYOR_REGISTER = (
    _FIT
    + r"""
import sys
from conveyor.workspace import Workspace
with Workspace.open(sys.argv[1]) as ws:
    for kind in ("lr", "rf"):
        model, frame = fit(kind)
        ws.models.register(kind, model, input_example=frame.head(50))
"""
)

_MLFLOW_SERVER = (
    _FIT
    + r"""
import os, subprocess, sys
import mlflow.sklearn
kind, folder, port = sys.argv[1], sys.argv[2], sys.argv[3]
model, frame = fit(kind)
trusted = ["sklearn.tree._tree.Tree"] if kind == "rf" else None  # MLflow's skops allow-list
mlflow.sklearn.save_model(model, folder, input_example=frame.head(2), skops_trusted_types=trusted)
# `mlflow models serve` starts `uvicorn` through bash: the venv's bin must be on PATH.
os.environ["PATH"] = os.path.dirname(sys.argv[4]) + os.pathsep + os.environ.get("PATH", "")
os.execvp(sys.argv[4], [sys.argv[4], "models", "serve", "-m", folder, "-p", port,
          "-h", "127.0.0.1", "--env-manager", "local", "-w", "1"])
"""
)

_BARE = r"""
import sys, uvicorn
BODY = b'{"predictions": [1]}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def _payload(rows: int) -> bytes:
    rng = np.random.default_rng(1)
    data = rng.normal(size=(rows, len(FEATURES))).round(6).tolist()
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": data}}).encode()


class _Connection:
    """One keep-alive HTTP/1.1 connection that sends a fixed request and reads the answer.

    Written here rather than taken from httpx or aiohttp: their per-request cost on the client
    (about 1 ms here) would cap every server near the same figure on two cores, and the
    benchmark must measure the servers, not the client. It understands exactly what the servers
    under test send back: a status line, headers, and a Content-Length or chunked body.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            await self.reader.readexactly(length)
            return status
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            await self.reader.readexactly(size + 2)
        await self.reader.readline()  # the empty line after the last chunk
        return status

    def close(self) -> None:
        self.writer.close()


def _request(url: str, body: bytes) -> tuple[str, int, bytes]:
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 80
    head = (
        f"POST {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return host, port, head.encode() + body


async def _load(url: str, body: bytes, total: int, concurrency: int, warmup: int) -> Result:
    """Send ``total`` requests (at most for ``CLIENT_SECONDS``) over ``concurrency`` connections.

    ``warmup`` requests per connection go first and are not counted.
    """
    host, port, request = _request(url, body)
    latencies: list[float] = []
    errors = 0
    connections = [await _Connection.open(host, port) for _ in range(concurrency)]
    try:
        for _ in range(warmup):
            for connection in connections:
                await connection.send(request)
        remaining = total
        began = time.perf_counter()
        stop_at = began + CLIENT_SECONDS

        async def worker(connection: _Connection) -> None:
            nonlocal remaining, errors
            while remaining > 0 and time.perf_counter() < stop_at:
                remaining -= 1
                start = time.perf_counter()
                status = await connection.send(request)
                latencies.append(time.perf_counter() - start)
                errors += status != 200

        await asyncio.gather(*(worker(c) for c in connections))
        wall = time.perf_counter() - began
    finally:
        for connection in connections:
            connection.close()
    latencies.sort()
    return Result(
        rps=len(latencies) / wall,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
        errors=errors,
    )


Cell = dict[int, tuple[Result, Result | None]]  # concurrency -> (own client, wrk)


def _wrk_run(
    wrk: str | None, url: str, body: bytes, connections: int, seconds: int
) -> Result | None:
    if wrk is None:
        return None
    try:
        return _wrk.run(wrk, url, body, connections, seconds)
    except (_wrk.WrkOutputError, subprocess.SubprocessError) as exc:
        sys.stderr.write(f"wrk on {url} failed: {exc}\n")
        return None


def _measure(url: str, rows: int, total: int, wrk: str | None) -> Cell:
    """Warm up, then the own client at concurrency 1 and 8, then wrk at 1 and 8."""
    body = _payload(rows)
    if wrk is not None:
        _wrk_run(wrk, url, body, 8, WARMUP_SECONDS)
        warmup = 5
    else:
        warmup = max(20, total // 40)
    client = {c: asyncio.run(_load(url, body, total, c, warmup)) for c in (1, 8)}
    return {c: (client[c], _wrk_run(wrk, url, body, c, SECONDS)) for c in (1, 8)}


def _ensure_mlflow_venv(console: Console) -> Path | None:
    python = VENV / "bin" / "python"
    if not python.exists():
        console.print(f"creating {VENV} (mlflow-skinny, scikit-learn, skops, uvicorn) ...")
        import sklearn

        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pins = [
            "mlflow-skinny",
            f"scikit-learn=={sklearn.__version__}",
            "pandas",
            "skops",  # mlflow.sklearn saves with skops
            "uvicorn",
            "fastapi",
        ]
        done = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *pins], check=False)
        if done.returncode != 0:
            console.print("[red]could not install MLflow into its venv; MLflow rows skipped[/]")
            return None
    return python


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def _load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _machine(wrk_version: str, mlflow_python: Path | None) -> str:
    mlflow = "not measured"
    if mlflow_python is not None:
        done = subprocess.run(
            [str(mlflow_python), "-c", "import importlib.metadata as m; "
             "print(m.version('mlflow-skinny'), m.version('scikit-learn'))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        mlflow = done.stdout.strip().replace(" ", ", scikit-learn ") or "unknown"
    return (
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()} "
        f"{platform.release()}), Python {platform.python_version()}; conveyor "
        f"{_version('conveyor-ml')}, scikit-learn {_version('scikit-learn')}, uvicorn "
        f"{_version('uvicorn')}, numpy {_version('numpy')}; MLflow venv: mlflow-skinny {mlflow}; "
        f"{wrk_version}"
    )


Row = tuple[str, str, int, Cell]


def main() -> None:
    """Measure every server in one run and print the tables with the machine's load."""
    console = Console(width=160)
    results: list[Row] = []
    here = Path(__file__).resolve().parent.parent
    wrk, wrk_version = _wrk.find()
    if wrk is None:
        console.print(f"[yellow]no wrk column: {wrk_version}[/]")
        wrk_version = "wrk: not found"
    mlflow_python = _ensure_mlflow_venv(console) if external_baselines() else None
    console.print(f"Machine: {_machine(wrk_version, mlflow_python)}")
    console.print(f"Load average before (1, 5, 15 min): {_load_average()}")
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-serving-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-c", _CONVEYOR_REGISTER, str(work)], check=True, cwd=here)
        port = _port()
        bare = _start([sys.executable, "-c", _BARE, str(port)], f"http://127.0.0.1:{port}/")
        if bare is not None:
            try:
                url = f"http://127.0.0.1:{port}/"
                results.append(("bare ASGI (constant)", "-", 1, _measure(url, 1, REQUESTS, wrk)))
            finally:
                _stop(bare)
        for model in ("lr", "rf"):
            for label, log, micro in (
                ("conveyor (logging on)", "1", "0"),
                ("conveyor (logging off)", "0", "0"),
                ("conveyor (micro-batch, logging on)", "1", "1"),
            ):
                port = _port()
                argv = [sys.executable, "-c", _CONVEYOR_SERVER, str(work), f"{model}@1",
                        str(port), log, micro]  # fmt: skip
                proc = _start(argv, f"http://127.0.0.1:{port}/v2/health/ready", cwd=here)
                if proc is None:
                    continue
                try:
                    url = f"http://127.0.0.1:{port}/invocations"
                    for rows in (1, 100) if micro == "0" else (1,):
                        results.append((label, model, rows, _measure(url, rows, REQUESTS, wrk)))
                finally:
                    _stop(proc)
            if mlflow_python is not None:
                port = _port()
                argv = [str(mlflow_python), "-c", _MLFLOW_SERVER, model,
                        str(work / f"mlflow-{model}"), str(port),
                        str(VENV / "bin" / "mlflow")]  # fmt: skip
                proc = _start(argv, f"http://127.0.0.1:{port}/ping")
                if proc is not None:
                    try:
                        url = f"http://127.0.0.1:{port}/invocations"
                        for rows in (1, 100):
                            results.append(("mlflow models serve", model, rows,
                                            _measure(url, rows, MLFLOW_REQUESTS, wrk)))  # fmt: skip
                    finally:
                        _stop(proc)
    _print(console, results)
    _print_ratios(console, results)
    console.print(f"Load average after (1, 5, 15 min): {_load_average()}")


def _fmt(result: Result | None) -> tuple[str, str, str]:
    if result is None:
        return "-", "-", "-"
    return f"{result.rps:,.0f}", f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}"


def _print(console: Console, results: list[Row]) -> None:
    table = Table(
        title=f"Prediction serving, /invocations, one uvicorn worker: own client ({REQUESTS:,} "
        f"requests, MLflow {MLFLOW_REQUESTS:,}, at most {CLIENT_SECONDS:g} s) and wrk "
        f"({SECONDS} s, one thread), after a {WARMUP_SECONDS} s warm-up"
    )
    for column in ("server", "model", "rows", "conc.", "req/s", "p50 ms", "p99 ms",
                   "wrk req/s", "wrk p50 ms", "wrk p99 ms", "errors"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("server", "model") else "right")
    for server, model, rows, cell in results:
        for concurrency, (client, wrk) in cell.items():
            errors = client.errors + (wrk.errors if wrk is not None else 0)
            table.add_row(server, model, str(rows), str(concurrency), *_fmt(client), *_fmt(wrk),
                          str(errors))  # fmt: skip
    console.print(table)


def _print_ratios(console: Console, results: list[Row]) -> None:
    mlflow = {(m, r): cell for s, m, r, cell in results if s == "mlflow models serve"}
    if not mlflow:
        return
    table = Table(title="conveyor / MLflow, requests per second (same model, rows, concurrency)")
    for column in ("conveyor", "model", "rows", "c=1 client", "c=1 wrk", "c=8 client", "c=8 wrk"):
        table.add_column(column, justify="left" if column in ("conveyor", "model") else "right")

    def ratio(ours: Result | None, theirs: Result | None) -> str:
        if ours is None or theirs is None or theirs.rps == 0:
            return "-"
        return f"{ours.rps / theirs.rps:.1f}x"

    for server, model, rows, cell in results:
        base = mlflow.get((model, rows))
        if base is None or not server.startswith("conveyor"):
            continue
        figures = [ratio(cell[c][i], base[c][i]) for c in (1, 8) for i in (0, 1)]
        table.add_row(server.removeprefix("conveyor ").strip("()"), model, str(rows), *figures)
    console.print(table)


if __name__ == "__main__":
    main()
