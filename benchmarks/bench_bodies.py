"""Request body formats for bulk scoring: JSON rows, JSON columns, Arrow IPC and Parquet.

A conveyor prediction server (one uvicorn worker, prediction logging off, its own process on
127.0.0.1) serves a logistic regression on 8 numeric features; one client sends the same rows
sequentially over a keep-alive connection as each body format, 100-row and 10,000-row
requests (the formats taking turns request by request), and reports rows/s and the ratio to
JSON rows measured in the same run.

A second table times parsing and validation in this process (no HTTP, no model) for a 100-row
body and a 10,000-row body: JSON rows and JSON columns with the current checks and, when git
can show it, with the per-value checks of ``BEFORE`` (loaded from that commit into a temp
dir); Arrow and Parquet with the current reader.

``CONVEYOR_BENCH_SCALE`` scales the request counts (1,000 requests of 100 rows and 40 of 10,000
rows at 1.0; never below 20 and 5).
"""

from __future__ import annotations

import importlib.util
import io
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from rich.console import Console
from rich.table import Table

from benchmarks import scale

FEATURES = [f"f{i}" for i in range(8)]
#: The commit whose ``_inputs.py`` checks every value in Python (the "before" figures).
BEFORE = "51533d5"
ROOT = Path(__file__).resolve().parent.parent
ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"

_SERVER = r"""
import sys
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from conveyor.serving import ServingSettings
from conveyor.serving._launch import serve
from conveyor.workspace import Workspace
root, port = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
x = pd.DataFrame(rng.normal(size=(2000, 8)), columns=[f"f{i}" for i in range(8)])
y = (x["f0"] + 0.5 * x["f1"] > 0).astype(int)
with Workspace.open(root, env={}) as ws:
    ws.models.register("bodies", LogisticRegression().fit(x, y), input_example=x.head(20))
settings = ServingSettings(log_predictions=False, max_body_bytes=64 * 2**20,
                           prepare_explainers=False)
serve(root, "bodies@1", port=port, settings=settings)
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server() -> Iterator[str]:
    """The conveyor server in its own process; yields its URL once it answers ``/ping``."""
    with tempfile.TemporaryDirectory() as folder:
        port = _port()
        proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, folder, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-800:]}")  # type: ignore[union-attr]
                try:
                    if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not become ready in 180 s")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def bodies(n: int) -> dict[str, tuple[bytes, str]]:
    """The same ``n`` rows in each format: name -> (body, content type)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = np.random.default_rng(n).normal(size=(n, len(FEATURES)))
    rows = [dict(zip(FEATURES, map(float, row), strict=True)) for row in x]
    columns = {name: x[:, i].tolist() for i, name in enumerate(FEATURES)}
    table = pa.table({name: x[:, i] for i, name in enumerate(FEATURES)})
    stream = io.BytesIO()
    with pa.ipc.new_stream(stream, table.schema) as writer:
        writer.write_table(table)
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    return {
        "JSON rows": (orjson.dumps({"rows": rows}), "application/json"),
        "JSON columns": (orjson.dumps({"columns": columns}), "application/json"),
        "Arrow IPC": (stream.getvalue(), ARROW),
        "Parquet": (parquet.getvalue(), PARQUET),
    }


def throughput(
    url: str, made: dict[str, tuple[bytes, str]], requests: int, n: int
) -> dict[str, float]:
    """Rows per second answered per format: the formats take turns request by request over
    one keep-alive connection, so load from elsewhere on the machine hits all alike."""
    spent = dict.fromkeys(made, 0.0)
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, (body, ctype) in made.items():  # warm up, and check every format works
            for _ in range(3):
                answer = client.post("/v1/predict", content=body, headers={"content-type": ctype})
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:300]}")
        for _ in range(requests):
            for name, (body, ctype) in made.items():
                started = time.perf_counter()
                client.post("/v1/predict", content=body, headers={"content-type": ctype})
                spent[name] += time.perf_counter() - started
    return {name: requests * n / seconds for name, seconds in spent.items()}


def _old_inputs() -> Any | None:
    """``conveyor.serving._inputs`` as of ``BEFORE``, or ``None`` when git cannot show it."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE}:src/conveyor/serving/_inputs.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    folder = Path(tempfile.mkdtemp())
    path = folder / "old_inputs.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("_bench_old_inputs", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _per_body(works: list[Callable[[], Any]], n: int) -> list[float]:
    """Microseconds per call of each of ``works``: they take turns over 7 rounds (so load
    from elsewhere hits all alike) and each keeps its best round."""
    reps = max(5, 20_000 // n)
    best = [float("inf")] * len(works)
    for _ in range(7):
        for i, work in enumerate(works):
            started = time.perf_counter()
            for _ in range(reps):
                work()
            best[i] = min(best[i], (time.perf_counter() - started) / reps)
    return [b * 1e6 for b in best]


def in_process(console: Console) -> None:
    """Parse + validate time per body, before and after, without HTTP or a model."""
    from conveyor.serving import ServedModel, ServingSettings
    from conveyor.serving import _inputs as inputs
    from conveyor.serving._model import InputColumn
    from conveyor.serving._wire import parse_json, parse_table

    class Zero:
        def predict(self, frame: Any) -> Any:
            return np.zeros(len(frame))

        def predict_array(self, x: Any) -> Any:
            return np.zeros(len(x))

    model = ServedModel("m", 1, Zero(), tuple(InputColumn(f, "double") for f in FEATURES))
    settings = ServingSettings(max_body_bytes=64 * 2**20)
    old = _old_inputs()
    table = Table(title="Parse + validate per body, in process (us; lower is better)")
    for col in ("rows", "format", f"before ({BEFORE})", "now", "before / now"):
        table.add_column(col, justify="right")
    for n in (100, 10_000):
        made = bodies(n)
        for name, (body, ctype) in made.items():
            if ctype == "application/json":
                key = "rows" if name == "JSON rows" else "columns"

                def run(module: Any, body: bytes = body, key: str = key) -> Any:
                    payload = parse_json(body, settings)
                    if key == "rows":
                        return module.from_records(model, payload["rows"], settings)
                    return module.from_columns(model, payload["columns"], settings)

                if old is None:
                    (now,), then = _per_body([lambda: run(inputs)], n), None
                else:
                    now, then = _per_body([lambda: run(inputs), lambda: run(old)], n)
            else:
                fmt = "arrow" if ctype == ARROW else "parquet"

                def table_run(body: bytes = body, fmt: str = fmt) -> Any:
                    return inputs.from_columns(model, parse_table(body, fmt, settings), settings)

                (now,) = _per_body([table_run], n)
                then = None
            table.add_row(
                f"{n:,}",
                name,
                "-" if then is None else f"{then:,.0f}",
                f"{now:,.0f}",
                "-" if then is None else f"{then / now:.2f}x",
            )
    console.print(table)


def main() -> None:
    console = Console(width=140)
    factor = scale()
    counts = {100: max(20, int(1000 * factor)), 10_000: max(5, int(40 * factor))}
    table = Table(title="Prediction server, /v1/predict by body format (rows/s; higher is better)")
    for col in ("rows per request", "format", "body bytes", "requests", "rows/s", "vs JSON rows"):
        table.add_column(col, justify="right")
    with server() as url:
        for n, requests in counts.items():
            made = bodies(n)
            rates = throughput(url, made, requests, n)
            baseline = rates["JSON rows"]
            for name, (body, _ctype) in made.items():
                rate = rates[name]
                table.add_row(
                    f"{n:,}",
                    name,
                    f"{len(body):,}",
                    str(requests),
                    f"{rate:,.0f}",
                    f"{rate / baseline:.2f}x",
                )
    console.print(table)
    in_process(console)


if __name__ == "__main__":
    main()
