"""The real prediction server as a child process, and the shop's traffic sent to it over HTTP."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pandas as pd

from conveyor.config import process_env
from conveyor.demo._errors import DemoFailed
from conveyor.demo._project import ENV, REQUEST_COLUMNS, TARGET


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``conveyor serve --env production`` in ``root``, which also runs the controller loop
    (or, with other ``args``, another of conveyor's servers, such as ``conveyor ui``).

    Args:
        root: The project folder (the child's working directory).
        log_path: Where the child's output goes (read it when the server misbehaves).
        port: The port (default: a free one).
        args: The ``conveyor`` command and its options but host and port.
        ready: The path that answers 200 once the server is ready.
        name: What the server is called in messages.
    """

    def __init__(
        self,
        root: Path,
        log_path: Path,
        *,
        port: int | None = None,
        args: tuple[str, ...] = ("serve", "--env", ENV),
        ready: str = "/v2/health/ready",
        name: str = "prediction server",
    ) -> None:
        self.root = root
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.ready = ready
        self.name = name
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._proc is None else self._proc.pid

    def start(self, *, timeout_s: float = 120.0) -> None:
        """Start the server and wait until its ready path answers 200.

        Raises:
            DemoFailed: The server exited or did not become ready in time.
        """
        command = [sys.executable, "-m", "conveyor", *self.args]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        env = {**process_env(), "PYTHONUNBUFFERED": "1"}
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            command, cwd=self.root, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise DemoFailed(
                        f"The {self.name} exited with status {self._proc.returncode} "
                        "before it was ready.",
                        hint=f"Read its output in {self.log_path}.",
                        log=str(self.log_path),
                    )
                try:
                    if client.get(self.ready).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise DemoFailed(
            f"The {self.name} on {self.url} was not ready after {timeout_s:.0f} s.",
            hint=f"Read its output in {self.log_path}.",
            log=str(self.log_path),
        )

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Stop the server with SIGTERM (it drains and flushes its log); kill if it hangs."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def detach(self) -> None:
        """Leave the server running after the demo (``--keep-serving``)."""
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Served:
    """One answered request: its id, the version that answered, and the rows' labels."""

    request_id: str
    version: int
    labels: list[int]


@dataclass
class TrafficStats:
    """What the shop's traffic did so far."""

    requests: int = 0
    rows: int = 0
    failed: int = 0
    labels_sent: int = 0
    by_version: dict[int, int] = field(default_factory=dict)


class Shop:
    """Simulated shoppers: batches of session rows to ``/v1/predict``, labels to ``/v1/feedback``.

    Purchases are known only later, so the labels of answered requests are held back and
    sent with :meth:`send_labels`. Every call is bounded by a timeout.
    """

    def __init__(self, url: str, *, rows_per_request: int, timeout_s: float = 10.0) -> None:
        self.client = httpx.Client(base_url=url, timeout=timeout_s)
        self.rows_per_request = rows_per_request
        self.stats = TrafficStats()
        self.pending: list[Served] = []

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def requests_of(self, sessions: pd.DataFrame) -> Iterator[pd.DataFrame]:
        """``sessions`` cut into request-sized batches."""
        for start in range(0, len(sessions), self.rows_per_request):
            yield sessions.iloc[start : start + self.rows_per_request]

    def ask(self, batch: pd.DataFrame) -> Served:
        """Send one batch for prediction.

        Raises:
            DemoFailed: The server refused or failed the request.
        """
        rows = [
            {str(k): v for k, v in row.items()}
            for row in batch[list(REQUEST_COLUMNS)].to_dict("records")
        ]
        try:
            response = self.client.post("/v1/predict", json={"rows": rows})
        except httpx.HTTPError as exc:
            raise DemoFailed(
                f"The prediction server did not answer: {exc}.",
                hint="Read the server log in the demo folder.",
            ) from exc
        self.stats.requests += 1
        if response.status_code != 200:
            self.stats.failed += 1
            raise DemoFailed(
                f"/v1/predict answered {response.status_code}: {response.text[:300]}",
                hint="Read the server log in the demo folder.",
                status=response.status_code,
            )
        body = response.json()
        version = int(body["version"])
        served = Served(str(body["request_id"]), version, [int(v) for v in batch[TARGET]])
        self.stats.rows += len(batch)
        self.stats.by_version[version] = self.stats.by_version.get(version, 0) + len(batch)
        self.pending.append(served)
        return served

    def send_labels(self) -> int:
        """Send the purchases of every answered request not labelled yet; return how many."""
        labels: dict[str, int] = {}
        for served in self.pending:
            if len(served.labels) == 1:
                labels[served.request_id] = served.labels[0]
            else:
                for i, label in enumerate(served.labels):
                    labels[f"{served.request_id}:{i}"] = label
        self.pending = []
        if not labels:
            return 0
        response = self.client.post("/v1/feedback", json={"labels": labels})
        if response.status_code != 200:
            raise DemoFailed(
                f"/v1/feedback answered {response.status_code}: {response.text[:300]}",
                hint="Read the server log in the demo folder.",
            )
        self.stats.labels_sent += len(labels)
        return len(labels)

    def day(self, sessions: pd.DataFrame) -> list[Served]:
        """Send a day of sessions, then that day's purchases."""
        served = [self.ask(batch) for batch in self.requests_of(sessions)]
        self.send_labels()
        return served
