"""Real servers on 127.0.0.1 for tests: ``conveyor server`` (the control plane) in a thread,
and ``conveyor serve`` in a process of its own over a project holding a real model."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from conveyor.api import create_app
from conveyor.core import Actor
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.workspace import Workspace

ADMIN = Actor(name="admin", kind="user")


@dataclass
class Server:
    """A control plane running in this process."""

    url: str
    ws: Workspace
    tokens: Tokens

    def token(self, name: str, role: str, *, environments: tuple[str, ...] = ()) -> str:
        """Create a token on the server and return its secret."""
        secret, _ = self.tokens.create(name, role, environments=environments, actor=ADMIN)
        return secret

    def actor(self, name: str) -> Actor:
        """The actor the server records for token ``name``."""
        return Actor(name=f"token:{name}", kind="service")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: object, port: int | None = None) -> Iterator[tuple[str, uvicorn.Server]]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its URL and server."""
    port = port or free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        # A client that keeps a connection open must not hold the test's teardown.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(20)


@contextmanager
def control_plane(ws: Workspace, port: int | None = None) -> Iterator[Server]:
    """``conveyor server``'s app over ``ws``, served on 127.0.0.1."""
    tokens = Tokens(SqlTokenRecords(ws.store))
    with serve_app(create_app(ws, tokens=tokens), port) as (url, _):
        yield Server(url, ws, tokens)


# cancer@1: a logistic regression on four columns of scikit-learn's breast cancer data.
CANCER_COLUMNS = ["mean radius", "mean texture", "mean area", "mean smoothness"]
CANCER_ROW = {
    "mean radius": 14.1,
    "mean texture": 19.3,
    "mean area": 654.9,
    "mean smoothness": 0.096,
}


def cli_env() -> dict[str, str]:
    """This process's environment without ``CONVEYOR_*`` settings, for a command line."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}


def register_cancer(root: Path) -> Path:
    """Make ``root`` a project holding cancer@1 with an ONNX twin that passed parity."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    init = subprocess.run(
        [sys.executable, "-m", "conveyor", "init", "."],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    data = load_breast_cancer(as_frame=True)
    frame = data.frame[CANCER_COLUMNS]
    model = LogisticRegression(max_iter=5000).fit(frame, data.target)
    with Workspace.open(root) as ws:
        version = ws.models.register("cancer", model, input_example=frame.head(20))
        assert version.onnx is not None
        assert version.onnx["parity"]["passed"]
    return root


@dataclass
class ServeProcess:
    """A ``conveyor serve`` process that answered a prediction."""

    process: subprocess.Popen[bytes]
    client: httpx.Client
    first_answer: httpx.Response


@contextmanager
def conveyor_serve(
    project: Path, *args: str, body: dict[str, Any] | None = None, stderr: Path | None = None
) -> Iterator[ServeProcess]:
    """Run ``conveyor serve *args`` in ``project`` on a free port until it answers ``body``.

    Yields once ``POST /v1/predict`` answered 200 (its stderr is shown if it exits first);
    the process is terminated afterwards. Its stderr is written to ``stderr`` (by default
    ``serve-<port>.stderr`` in ``project``).
    """
    port = free_port()
    errors = stderr or project / f"serve-{port}.stderr"
    with errors.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "serve", *args, "--port", str(port)],
            cwd=project,
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 300  # a bound on a hang, not a measurement
            while True:
                assert process.poll() is None, errors.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "the server never answered"
                try:
                    answer = client.post("/v1/predict", json=body or {"rows": [CANCER_ROW]})
                    if answer.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            yield ServeProcess(process, client, answer)
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
