"""The team server: a remote workspace through ``conveyor server`` vs a local one vs MLflow.

Three workloads, each run by a fresh client process per backend (so every client's peak
memory is its own) and timed inside that process:

1. ``conveyor.log_metric`` called once per value inside a ``@step`` of a ``@pipeline`` run
   (the figure includes the pipeline's records and the final flush; the pipeline alone,
   with no metric, and the calls alone are printed below the table); MLflow:
   ``mlflow.log_metric`` once per value in one run, one request each, so it logs
   ``CONVEYOR_BENCH_MLFLOW_METRICS`` values (default 1,000) and its time is scaled to the
   full count.
2. Looking a model version up by number: ``ws.models.get("bench@3")``; MLflow:
   ``MlflowClient().get_model_version("bench", "3")``.
3. Registering a model whose artifact is one large incompressible file (a pyfunc model
   whose ``save`` copies it): ``ws.models.register``; MLflow: ``mlflow.log_artifact`` of
   the same file, then ``MlflowClient.create_model_version`` from it. Peak memory of the
   client and of the server (``VmHWM``, and the largest ``RssAnon`` sampled while the
   workload runs) shows whether memory stays bounded whatever the artifact's size.

Backends: a local workspace (SQLite and a local artifact store, no server); a remote
workspace (``CONVEYOR_SERVER_URL`` + ``CONVEYOR_TOKEN``) calling ``conveyor server
--port P`` in its own process over a project with a ``developer`` token made by
``conveyor tokens create``; and ``mlflow server`` (SQLite backend store, proxied artifacts:
``--serve-artifacts --artifacts-destination``) with its client, both in their own
virtualenv (``benchmarks/.venvs/mlflow-server``, ``pip install mlflow==MLFLOW_VERSION``,
created on first use; when that fails the MLflow column is skipped and the reason printed).
Everything listens on 127.0.0.1.

``CONVEYOR_BENCH_SCALE`` scales the counts (10,000 metric values, 1,000 lookups, a 200 MB
model at 1.0; never below 500, 50 and 20 MB) and ``CONVEYOR_BENCH_BASELINES=0`` skips
MLflow, as for the other benchmarks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks import external_baselines, scale

#: The MLflow release measured (the newest whose dependencies all install from the index here).
MLFLOW_VERSION = "3.17.2"
VENV = Path(__file__).resolve().parent / ".venvs" / "mlflow-server"
#: How many values MLflow logs one request each (its time is scaled to the full count);
#: ``CONVEYOR_BENCH_MLFLOW_METRICS=10000`` logs them all.
MLFLOW_METRICS = int(os.environ.get("CONVEYOR_BENCH_MLFLOW_METRICS", "1000"))
ROOT = Path(__file__).resolve().parent.parent
_CONVEYOR = [sys.executable, "-m", "conveyor"]

#: Project code of the client: the pipeline that logs and the model with one large file.
_FLOW = '''
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import conveyor
from conveyor.pipelines import pipeline, step


#: Seconds the last ``train`` spent in its log_metric calls (read by the benchmark's client).
LOOP_SECONDS: list[float] = []


@step
def train(n: int) -> int:
    start = time.perf_counter()
    for i in range(n):
        conveyor.log_metric("loss", i * 0.5, step=i)
    LOOP_SECONDS.append(time.perf_counter() - start)
    return n


@pipeline
def logging_flow(n: int = 0) -> None:
    train(n)


class BlobModel:
    """A model whose artifact is one file (pyfunc flavor: save, load, predict)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def save(self, folder: Path) -> None:
        shutil.copyfile(self.path, Path(folder) / "blob.bin")

    @classmethod
    def load(cls, folder: Path) -> BlobModel:
        return cls(Path(folder) / "blob.bin")

    def predict(self, frame: Any) -> list[float]:
        return [0.0] * len(frame)
'''

_SESSION = r"""
import json, sys, threading, traceback


def memory_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


class AnonPeak(threading.Thread):
    # Samples RssAnon (heap, not mapped files) every 5 ms: VmHWM also counts file pages.
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.done = memory_mb("RssAnon") or 0.0, threading.Event()

    def run(self):
        while not self.done.wait(0.005):
            self.peak = max(self.peak, memory_mb("RssAnon") or 0.0)


def serve(run):
    # One workload per line on stdin ("TASK COUNT [FILE]"), one "RESULT {json}" line back.
    for line in sys.stdin:
        task, count, *rest = line.split()
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # a fresh peak-memory window for this workload
        except OSError:
            pass
        sampler = AnonPeak()
        sampler.start()
        try:
            out = run(task, int(count), *rest)
        except Exception:
            out = {"error": traceback.format_exc()}
        sampler.done.set()
        sampler.join()
        out["peak_mb"] = memory_mb("VmHWM")
        out["anon_peak_mb"] = max(sampler.peak, memory_mb("RssAnon") or 0.0)
        print("RESULT " + json.dumps(out), flush=True)
"""

#: One conveyor client: ``python -c _CLIENT ROOT``, then workloads on stdin.
_CLIENT = (
    _SESSION
    + r"""
import os, time
from pathlib import Path

root = Path(sys.argv[1])
sys.path.insert(0, str(root))
from conveyor.pipelines import load_pipeline
from conveyor.workspace import Workspace
from bench_flow import BlobModel

env = {k: v for k, v in os.environ.items() if k.startswith("CONVEYOR_")}


def run(task, count, *rest):
    out = {"remote": ws.is_remote}
    if task == "metrics":
        flow = load_pipeline("bench_flow:logging_flow", root)
        flow.run(ws, params={"n": 0}, cache=False, max_workers=1)  # warm-up
        start = time.perf_counter()
        flow.run(ws, params={"n": 0}, cache=False, max_workers=1)
        out["overhead_s"] = time.perf_counter() - start
        start = time.perf_counter()
        done = flow.run(ws, params={"n": count}, cache=False, max_workers=1)
        out["seconds"] = time.perf_counter() - start
        out["loop_s"] = flow.fn.__globals__["LOOP_SECONDS"][-1]
        out["stored"] = len(ws.runs.metrics(done.steps["train"].run_id, "loss"))
    elif task == "lookups":
        for i in range(3):
            blob = root / f"small-{i}.bin"
            blob.write_bytes(bytes([i]) * 1024)
            ws.models.register("bench", BlobModel(blob), onnx=False, explain=False)
        ws.models.get("bench@3")
        start = time.perf_counter()
        for _ in range(count):
            version = ws.models.get("bench@3")
        out["seconds"] = time.perf_counter() - start
        out["stored"] = version.version
    elif task == "register":
        out["rss_before_mb"] = memory_mb("VmRSS")
        model = BlobModel(Path(rest[0]))
        start = time.perf_counter()
        version = ws.models.register("big", model, onnx=False, explain=False)
        out["seconds"] = time.perf_counter() - start
        out["stored"] = version.version
    return out


with Workspace.open(root, env=env, search_parents=False) as ws:
    serve(run)
"""
)

#: The MLflow client, run in MLflow's venv: ``python -c _MLFLOW_CLIENT URI``, workloads on stdin.
_MLFLOW_CLIENT = (
    _SESSION
    + r"""
import time
import mlflow
from mlflow.tracking import MlflowClient

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
client = MlflowClient(uri)


def run(task, count, *rest):
    out = {"version": mlflow.__version__}
    if task == "metrics":
        mlflow.set_experiment("bench")
        with mlflow.start_run() as active:
            mlflow.log_metric("warmup", 0.0)
            start = time.perf_counter()
            for i in range(count):
                mlflow.log_metric("loss", i * 0.5, step=i)
            out["seconds"] = time.perf_counter() - start
        out["stored"] = len(client.get_metric_history(active.info.run_id, "loss"))
    elif task == "lookups":
        mlflow.set_experiment("bench-lookups")
        with mlflow.start_run() as active:
            mlflow.log_text("small", "model/model.txt")
        client.create_registered_model("bench")
        for _ in range(3):
            client.create_model_version(
                "bench", f"{active.info.artifact_uri}/model", run_id=active.info.run_id
            )
        client.get_model_version("bench", "3")
        start = time.perf_counter()
        for _ in range(count):
            version = client.get_model_version("bench", "3")
        out["seconds"] = time.perf_counter() - start
        out["stored"] = int(version.version)
    elif task == "register":
        mlflow.set_experiment("bench-register")
        out["rss_before_mb"] = memory_mb("VmRSS")
        start = time.perf_counter()
        with mlflow.start_run() as active:
            mlflow.log_artifact(rest[0], "model")
        client.create_registered_model("big")
        version = client.create_model_version(
            "big", f"{active.info.artifact_uri}/model", run_id=active.info.run_id
        )
        out["seconds"] = time.perf_counter() - start
        out["stored"] = int(version.version)
    return out


serve(run)
"""
)


@dataclass(frozen=True)
class Sizes:
    """How much each workload does at the current scale."""

    metrics: int
    lookups: int
    model_mb: int


def sizes() -> Sizes:
    """The counts at ``CONVEYOR_BENCH_SCALE`` (the floors make the quick mode of the tests)."""
    factor = scale()
    return Sizes(
        metrics=max(500, round(10_000 * factor)),
        lookups=max(50, round(1_000 * factor)),
        model_mb=max(20, round(200 * factor)),
    )


@dataclass
class Figure:
    """One client run: its time, the client's and server's peak memory."""

    seconds: float
    client_peak_mb: float | None = None
    client_before_mb: float | None = None
    server_peak_mb: float | None = None
    client_anon_mb: float | None = None
    server_anon_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Client:
    """A client process that runs the workloads it is sent, one at a time (see ``_SESSION``).

    Args:
        label: The backend's name in the table.
        argv: The command starting the client.
        env: Its environment.
        server_pid: The server process whose peak memory is read around each workload.
    """

    def __init__(
        self, label: str, argv: list[str], env: Mapping[str, str], server_pid: int | None
    ) -> None:
        self.label, self.argv, self.env, self.server_pid = label, argv, dict(env), server_pid
        # Closed by close(): the client outlives this call.
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            argv,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )
        self.failed = False

    def run(self, task: str, count: int, blob: Path | None = None) -> Figure | None:
        """Run one workload in the client and return its figure (``None``: it failed)."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        if self.failed or stdin is None or stdout is None:
            return None
        reset_peak(self.server_pid)
        answer: dict[str, Any] | None = None
        with AnonPeak(self.server_pid) as server_anon:
            stdin.write(f"{task} {count}{f' {blob}' if blob else ''}\n")
            stdin.flush()
            for line in stdout:
                if line.startswith("RESULT "):
                    answer = json.loads(line.removeprefix("RESULT "))
                    break
        if answer is not None and "error" in answer:
            sys.stderr.write(f"{self.label} failed on {task}: {answer['error'][-3000:]}\n")
            return None
        if answer is None:
            self.failed = True
            self._proc.wait()
            self._errors.seek(0)
            errors = self._errors.read().decode(errors="replace")
            sys.stderr.write(f"{self.label} client failed on {task}: {errors.strip()[-3000:]}\n")
            return None
        expected = {"metrics": count, "lookups": 3, "register": 1}[task]
        if answer.get("stored") != expected:
            raise RuntimeError(f"{self.label} {task}: expected {expected}, got {answer}")
        return Figure(
            seconds=answer["seconds"],
            client_peak_mb=answer.get("peak_mb"),
            client_before_mb=answer.get("rss_before_mb"),
            server_peak_mb=None if self.server_pid is None else peak_mb(self.server_pid),
            client_anon_mb=answer.get("anon_peak_mb"),
            server_anon_mb=None if self.server_pid is None else server_anon.peak,
            extra=answer,
        )

    def close(self) -> None:
        """End the client (its stdin closes) and wait for it."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(120)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._errors.close()


def conveyor_client(
    label: str, root: Path, env: Mapping[str, str], server_pid: int | None
) -> Client:
    """A conveyor client on the workspace at ``root``; ``env`` adds the server's URL, token."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    return Client(label, [sys.executable, "-c", _CLIENT, str(root)], {**clean, **env}, server_pid)


def mlflow_client(python: Path, uri: str, server_pid: int) -> Client:
    """An MLflow client in MLflow's venv calling the tracking server at ``uri``."""
    env = {**os.environ, "GIT_PYTHON_REFRESH": "quiet", "MLFLOW_TRACKING_URI": uri}
    return Client("MLflow", [str(python), "-c", _MLFLOW_CLIENT, uri], env, server_pid)


# -- processes and memory -------------------------------------------------------------------


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _family(pid: int) -> list[int]:
    """``pid`` and its descendants (a server's workers are counted with it)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue.extend(int(c) for c in task.read_text().split())
            except OSError:
                continue
    return found


def peak_mb(pid: int) -> float | None:
    """Peak resident memory (``VmHWM``) of ``pid`` and its descendants, summed, in MB."""
    total = 0
    for member in _family(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmHWM:"))
    return total / 1024 if total else None


def _anon_mb(pid: int) -> float:
    total = 0
    for member in _family(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("RssAnon:"))
    return total / 1024


class AnonPeak:
    """The peak anonymous memory (``RssAnon``: heap, not mapped files) of a process tree.

    ``VmHWM`` also counts the pages of memory-mapped files (conveyor hashes large files
    through ``mmap``), which the kernel reclaims at will; ``RssAnon`` is what a process
    really holds. Sampled every 5 ms in a thread while the block runs.
    """

    def __init__(self, pid: int | None) -> None:
        self.pid, self.peak = pid, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> AnonPeak:
        if self.pid is not None:
            self.peak = _anon_mb(self.pid)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pid is not None:
            self._done.set()
            self._thread.join()
            self.peak = max(self.peak, _anon_mb(self.pid))

    def _sample(self) -> None:
        assert self.pid is not None
        while not self._done.wait(0.005):
            self.peak = max(self.peak, _anon_mb(self.pid))


def reset_peak(pid: int | None) -> None:
    """Start a new ``VmHWM`` window for ``pid`` and its descendants (where Linux allows it)."""
    if pid is None:
        return
    for member in _family(pid):
        try:
            Path(f"/proc/{member}/clear_refs").write_text("5")
        except OSError:
            continue


@contextmanager
def running(
    argv: list[str], health: str, cwd: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes] | None]:
    """Start a server, wait until ``health`` answers 200, stop it (SIGTERM) afterwards."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=None if env is None else dict(env), stdout=log, stderr=log
        )
        try:
            yield _wait_ready(proc, health, log)
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(
    proc: subprocess.Popen[bytes], health: str, log: IO[bytes]
) -> subprocess.Popen[bytes] | None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(health, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    log.seek(0)
    sys.stderr.write(f"{proc.args!r:.200} did not start: {log.read().decode()[-3000:]}\n")
    return None


# -- setting up ------------------------------------------------------------------------------


def _cli(args: list[str], cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    done = subprocess.run(
        [*_CONVEYOR, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"conveyor {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _project(folder: Path) -> Path:
    from conveyor.workspace import init_project

    init_project(folder, name=folder.name)
    (folder / "bench_flow.py").write_text(_FLOW)
    return folder


def _blob(path: Path, megabytes: int) -> Path:
    """An incompressible file of ``megabytes`` MB, written 1 MB at a time."""
    with path.open("wb") as out:
        for _ in range(megabytes):
            out.write(os.urandom(1024 * 1024))
    return path


def _mlflow_python(console: Console) -> Path | None:
    python = VENV / "bin" / "python"
    check = [str(python), "-c", f"import mlflow; assert mlflow.__version__ == {MLFLOW_VERSION!r}"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    console.print(f"Creating {VENV} with mlflow=={MLFLOW_VERSION} (once)...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"mlflow=={MLFLOW_VERSION}"],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        console.print(f"[yellow]MLflow column skipped, install failed:[/] {detail.strip()[-800:]}")
        return None
    if subprocess.run(check, capture_output=True, check=False).returncode != 0:
        console.print(f"[yellow]MLflow column skipped: {VENV} cannot import mlflow.[/]")
        return None
    return python


# -- the workloads -----------------------------------------------------------------------------

Results = dict[str, dict[str, Figure | None]]


def measure(client: Client, n: Sizes, blob: Path, results: Results, metrics: int = 0) -> None:
    """Run the three workloads in ``client`` into ``results[workload][client.label]``.

    ``metrics`` logs fewer values than ``n.metrics`` (MLflow: one request per value); the
    figure is then scaled to ``n.metrics`` values, as each call costs the same.
    """
    try:
        logged = metrics or n.metrics
        figure = client.run("metrics", logged)
        if figure is not None and logged != n.metrics:
            figure.extra["logged"] = logged
            figure.seconds *= n.metrics / logged
        results["metrics"][client.label] = figure
        results["lookups"][client.label] = client.run("lookups", n.lookups)
        results["register"][client.label] = client.run("register", 1, blob)
    finally:
        client.close()


def main() -> None:
    """Run every backend and print the tables."""
    console = Console(width=160)
    n = sizes()
    results: Results = {"metrics": {}, "lookups": {}, "register": {}}
    mlflow_version: str | None = None
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-server-") as tmp:
        work = Path(tmp)
        blob = _blob(work / "model.bin", n.model_mb)

        local = _project(work / "local")
        measure(conveyor_client("local workspace", local, {}, None), n, blob, results)

        served = _project(work / "served")
        client = work / "client"
        client.mkdir()
        (client / "bench_flow.py").write_text(_FLOW)
        token = json.loads(_cli(["tokens", "create", "bench", "--role", "developer", "--json"],
                                served))["secret"]  # fmt: skip
        port = _port()
        url = f"http://127.0.0.1:{port}"
        server_env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        argv = [*_CONVEYOR, "server", "--port", str(port)]
        with running(argv, f"{url}/api/v1/health", served, server_env) as proc:
            if proc is not None:
                env = {"CONVEYOR_SERVER_URL": url, "CONVEYOR_TOKEN": token}
                remote = conveyor_client("conveyor server", client, env, proc.pid)
                measure(remote, n, blob, results)

        python = _mlflow_python(console) if external_baselines() else None
        if python is not None:
            port = _port()
            uri = f"http://127.0.0.1:{port}"
            store, artifacts = f"sqlite:///{work / 'mlflow.db'}", str(work / "mlartifacts")
            argv = [str(python), "-m", "mlflow", "server", "--host", "127.0.0.1",
                    "--port", str(port), "--workers", "1", "--backend-store-uri", store,
                    "--serve-artifacts", "--artifacts-destination", artifacts]  # fmt: skip
            env = {**os.environ, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ['PATH']}"}
            with running(argv, f"{uri}/health", work, env) as proc:
                if proc is not None:
                    some = min(n.metrics, MLFLOW_METRICS)
                    measure(mlflow_client(python, uri, proc.pid), n, blob, results, some)
                    figure = results["metrics"].get("MLflow")
                    mlflow_version = figure.extra.get("version") if figure else None
    _print(console, n, results, mlflow_version)


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _both(peak: float | None, anon: float | None) -> str:
    return "-" if peak is None else f"{_mb(peak)} / {_mb(anon)}"


def _print(console: Console, n: Sizes, results: Results, mlflow_version: str | None) -> None:
    mlflow_label = f"MLflow {mlflow_version} server" if mlflow_version else "MLflow server"
    rows = (
        ("metrics", f"{n.metrics:,} x log_metric", n.metrics),
        ("lookups", f"{n.lookups:,} x get name@3", n.lookups),
        ("register", f"register {n.model_mb} MB model", 1),
    )
    table = Table(title="Team server: local workspace vs conveyor server vs MLflow tracking server")
    for column in ("workload", "backend", "wall s", "ms/call", "client MB peak / anon",
                   "server MB peak / anon", "MLflow / server"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("workload", "backend") else "right")
    for key, title, count in rows:
        theirs = results[key].get("MLflow")
        for label, figure in results[key].items():
            shown = mlflow_label if label == "MLflow" else label
            if figure is None:
                table.add_row(title, shown, "failed", "", "", "", "")
                continue
            ratio = "-"
            if "logged" in figure.extra:
                shown += f" ({figure.extra['logged']:,} logged, time scaled)"
            if label == "conveyor server" and theirs is not None:
                ratio = f"{theirs.seconds / figure.seconds:,.1f}x"
            table.add_row(
                title,
                shown,
                f"{figure.seconds:,.3f}",
                f"{figure.seconds / count * 1000:,.3f}",
                _both(figure.client_peak_mb, figure.client_anon_mb),
                _both(figure.server_peak_mb, figure.server_anon_mb),
                ratio,
            )
    console.print(table)
    for label, figure in results["metrics"].items():
        if figure is not None and "overhead_s" in figure.extra:
            console.print(
                f"{label}: the pipeline run with no metric takes "
                f"{figure.extra['overhead_s']:.3f} s;"
                f" the {n.metrics:,} log_metric calls alone {figure.extra['loop_s']:.3f} s "
                "(buffered; the wall time above includes the run, its records and the flush)."
            )
    ours = results["metrics"].get("conveyor server")
    theirs = results["metrics"].get("MLflow")
    if ours is not None and theirs is not None:
        console.print(
            f"Logging {n.metrics:,} metric values from a pipeline step through the conveyor "
            f"server is {theirs.seconds / ours.seconds:,.1f}x MLflow's tracking server "
            f"({ours.seconds:.2f} s for the whole pipeline run vs {theirs.seconds:.2f} s for "
            "the log_metric calls alone; the aim is 10x or more)."
        )
    console.print(
        "Memory: 'peak' is VmHWM (reset before each workload), which also counts the pages of "
        "memory-mapped files (conveyor hashes large files through mmap; the kernel reclaims "
        "them at will); 'anon' is the largest RssAnon sampled every 5 ms (heap: what the "
        "process really holds). Server figures include its child processes."
    )


if __name__ == "__main__":
    main()
