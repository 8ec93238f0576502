"""Prediction server cold start: process start to first answer, and resident memory then.

Measures, for a logistic regression on 4 numeric columns of scikit-learn's breast cancer
data registered in a fresh project: ``conveyor serve`` serving the ONNX twin (the
default) and the native model (``--no-onnx``), the latter also for a 100-tree random
forest on the same columns; ``mlflow models serve`` on the same model
when its virtualenv exists (``benchmarks/.venvs/mlflow-serve``, built by
``bench_serving.py``); and a bare uvicorn app loading the same skops file with skops and
answering with scikit-learn (the floor for a Python server of this model). Each server
starts ``CONVEYOR_BENCH_SCALE``-scaled rounds (at least 1, default 3) times; the time is
from ``Popen`` until the first ``200`` to a prediction request, the memory the summed
``VmRSS`` of the server's process tree right after it, and the CPU seconds the tree had
used by then (user and system: less moved by other work on the machine than the wall
time). Ratios are against the bare app and the ONNX-twin server measured in the same run:
absolute times move with the load.

Run: ``python -m benchmarks.bench_coldstart``.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks import external_baselines, scale

COLUMNS = ["mean radius", "mean texture", "mean area", "mean smoothness"]
ROW = [14.1, 19.3, 654.9, 0.096]
MLFLOW = Path(__file__).resolve().parent / ".venvs" / "mlflow-serve" / "bin"

_REGISTER = r"""
import sys
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from conveyor.workspace import Workspace
import skops.io as sio
columns = ["mean radius", "mean texture", "mean area", "mean smoothness"]
frame = load_breast_cancer(as_frame=True).frame
model = LogisticRegression(max_iter=5000).fit(frame[columns], frame["target"])
with Workspace.open(sys.argv[1]) as ws:
    ws.models.register("lr", model, input_example=frame[columns].head(20))
    forest = RandomForestClassifier(n_estimators=100, random_state=0)
    forest.fit(frame[columns], frame["target"])
    ws.models.register("rf", forest, input_example=frame[columns].head(20))
open(sys.argv[2], "wb").write(sio.dumps(model))
"""

_MLFLOW_SAVE = r"""
import sys
import skops.io as sio
import mlflow.sklearn
model = sio.load(sys.argv[1], trusted=sio.get_untrusted_types(file=sys.argv[1]))
mlflow.sklearn.save_model(model, sys.argv[2])
"""

_BARE = r"""
import sys
import numpy as np
import skops.io as sio
import uvicorn
path, port = sys.argv[1], int(sys.argv[2])
model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    x = np.asarray([[14.1, 19.3, 654.9, 0.096]])
    body = ('{"predictions": [%d]}' % int(model.predict(x)[0])).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tree_rss_kib_cpu(pid: int) -> tuple[int, float]:
    """Summed VmRSS (KiB) and CPU seconds (user and system) of ``pid`` and its descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total, ticks = 0, 0
    for member in family:
        try:
            status = Path(f"/proc/{member}/status").read_text()
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total, ticks / os.sysconf("SC_CLK_TCK")


def _cold_start(
    argv: list[str], path: str, body: dict[str, Any], cwd: Path, env: dict[str, str]
) -> tuple[float, int, float] | None:
    """Seconds from start to the first 200 on ``path``, the tree's RSS in KiB and CPU
    seconds then."""
    port = _port()
    argv = [part.replace("{port}", str(port)) for part in argv]
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() - started < 300:
                if proc.poll() is not None:
                    return None
                try:
                    answer = client.post(f"http://127.0.0.1:{port}{path}", json=body)
                    if answer.status_code == 200:
                        seconds = time.perf_counter() - started
                        return seconds, *_tree_rss_kib_cpu(proc.pid)
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        return None
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(rounds: int | None = None) -> None:
    """Print cold-start time and memory of each server, with ratios to the bare app."""
    rounds = rounds if rounds is not None else max(int(3 * scale()), 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    with tempfile.TemporaryDirectory(prefix="conveyor-coldstart-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        skops_file = Path(tmp) / "lr.skops"
        python = sys.executable
        subprocess.run(
            [python, "-m", "conveyor", "init", "."],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [python, "-c", _REGISTER, str(root), str(skops_file)],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        v1: dict[str, Any] = {"rows": [dict(zip(COLUMNS, ROW, strict=True))]}
        split: dict[str, Any] = {"dataframe_split": {"columns": COLUMNS, "data": [ROW]}}
        serve = [python, "-m", "conveyor", "serve", "-m", "lr@1", "--port", "{port}"]
        cases: list[tuple[str, list[str], str, dict[str, Any]]] = [
            (
                "bare uvicorn + skops load",
                [python, "-c", _BARE, str(skops_file), "{port}"],
                "/",
                v1,
            ),
            ("conveyor serve (ONNX twin)", serve, "/v1/predict", v1),
            ("conveyor serve --no-onnx", [*serve, "--no-onnx"], "/v1/predict", v1),
            (
                "conveyor serve --no-onnx, forest",
                [python, "-m", "conveyor", "serve", "-m", "rf@1", "--port", "{port}", "--no-onnx"],
                "/v1/predict",
                v1,
            ),
        ]
        mlflow = MLFLOW / "mlflow"
        if external_baselines() and mlflow.exists():
            folder = Path(tmp) / "mlflow-model"
            saved = subprocess.run(
                [str(MLFLOW / "python"), "-c", _MLFLOW_SAVE, str(skops_file), str(folder)],
                env=env,
                capture_output=True,
                check=False,
            )
            if saved.returncode == 0:
                mlflow_env = {**env, "PATH": f"{MLFLOW}{os.pathsep}{env.get('PATH', '')}"}
                cases.append(
                    (
                        "mlflow models serve",
                        [
                            str(mlflow),
                            "models",
                            "serve",
                            "-m",
                            str(folder),
                            "-p",
                            "{port}",
                            "-h",
                            "127.0.0.1",
                            "--env-manager",
                            "local",
                            "-w",
                            "1",
                        ],
                        "/invocations",
                        split,
                    )
                )
                env_for = {"mlflow models serve": mlflow_env}
            else:
                print(f"mlflow model not saved: {saved.stderr.decode()[-500:]}")
                env_for = {}
        else:
            env_for = {}
        results: dict[str, list[tuple[float, int, float]]] = {name: [] for name, *_ in cases}
        for _ in range(rounds):  # interleaved, so load drifts hit every server alike
            for name, argv, path, body in cases:
                got = _cold_start(argv, path, body, root, env_for.get(name, env))
                if got is not None:
                    results[name].append(got)
    table = Table(
        title=f"cold start to first prediction, median of {rounds} (load "
        f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)"
    )
    columns = (
        "server",
        "seconds",
        "x bare",
        "x twin",
        "CPU s",
        "x twin",
        "RSS MB",
        "x bare",
        "x twin",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "server" else "right")
    base_s, base_mb, _ = _medians(results[cases[0][0]])
    twin_s, twin_mb, twin_cpu = _medians(results["conveyor serve (ONNX twin)"])
    for name, times in results.items():
        if not times:
            table.add_row(name, "failed", *[""] * (len(columns) - 2))
            continue
        seconds, mb, cpu = _medians(times)
        table.add_row(
            name,
            f"{seconds:.2f}",
            f"{seconds / base_s:.2f}",
            f"{seconds / twin_s:.2f}",
            f"{cpu:.2f}",
            f"{cpu / twin_cpu:.2f}",
            f"{mb:.0f}",
            f"{mb / base_mb:.2f}",
            f"{mb / twin_mb:.2f}",
        )
    console = Console()
    console.print(table)
    for name, times in results.items():
        if name.startswith("conveyor serve") and times:
            seconds, mb, _ = _medians(times)
            met = "met" if seconds < 2 and mb < 250 else "not met"
            console.print(
                f"Target for a scikit-learn model: ready in under 2 s and 250 MB; "
                f"{name} {seconds:.2f} s, {mb:.0f} MB: {met} at this load."
            )


def _medians(times: list[tuple[float, int, float]]) -> tuple[float, float, float]:
    """Median seconds, MB and CPU seconds of the rounds of one server (NaN when none answered)."""
    if not times:
        return float("nan"), float("nan"), float("nan")
    return (
        statistics.median(t for t, _, _ in times),
        statistics.median(r for _, r, _ in times) / 1024,
        statistics.median(c for _, _, c in times),
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
