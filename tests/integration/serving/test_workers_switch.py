"""``conveyor serve --env --workers 2``: both workers switch to a new deployment revision at
the same instant. Once any answer from the new version has arrived, no request sent after
it is answered by the old version (requests sent before may still be)."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving_support import training_frame
from sklearn.linear_model import LogisticRegression

from conveyor.deployments import DeploymentStore, Variant
from conveyor.workspace import Workspace
from server_support import cli_env, conveyor_serve

pytestmark = pytest.mark.slow

ROW = {"age": 41.0, "spend": 80.0}
ENVIRONMENTS = "\nenvironments:\n  production: {strategy: replace}\n"
Answer = tuple[float, float, int]  # (sent, answered, version): time.monotonic() readings


def _deploy(root: Path, version: int) -> None:
    with Workspace.open(root) as ws:
        store = DeploymentStore(ws.store, actor=ws.actor)
        current = store.current("production")
        store.transition(
            "production",
            expected_revision=None if current is None else current.revision,
            action="deploy",
            reason=f"churn@{version}",
            strategy="replace",
            state="stable",
            variants=(Variant("churn", version, "champion", 100),),
            params={},
        )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """churn@1 and churn@2 registered, churn@1 deployed to production."""
    init = subprocess.run(
        [sys.executable, "-m", "conveyor", "init", "."],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    with (tmp_path / "conveyor.yaml").open("a", encoding="utf-8") as config:
        config.write(ENVIRONMENTS)
    frame, target = training_frame()
    with Workspace.open(tmp_path) as ws:
        for labels in (target, 1 - target):
            ws.models.register(
                "churn", LogisticRegression().fit(frame, labels), input_example=frame.head(20)
            )
    _deploy(tmp_path, 1)
    return tmp_path


def _hammer(url: str, answers: list[Answer], stop: threading.Event) -> None:
    """Predict in a loop, a new connection per request (so both workers take requests)."""
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, timeout=30, limits=limits) as client:
        while not stop.is_set():
            sent = time.monotonic()
            try:
                answer = client.post("/v1/predict", json={"rows": [ROW]})
            except httpx.TransportError:
                continue
            if answer.status_code == 200:
                answers.append((sent, time.monotonic(), int(answer.json()["version"])))


def _wait(
    answers: list[Answer], enough: int, server: subprocess.Popen[bytes], errors: Path
) -> None:
    deadline = time.monotonic() + 300  # a bound on a hang, not a measurement
    while len(answers) < enough:
        assert server.poll() is None, errors.read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "the server did not answer"
        time.sleep(0.05)


@contextlib.contextmanager
def _hammering(root: Path, tmp_path: Path, clients: int) -> Iterator[Hammered]:
    """A two-worker server for ``root`` taking requests from ``clients`` threads."""
    errors = tmp_path / "stderr.txt"
    argv = ("--env", "production", "--workers", "2", "--no-log")
    with conveyor_serve(root, *argv, body={"rows": [ROW]}, stderr=errors) as served:
        url = str(served.client.base_url)
        answers: list[Answer] = []
        stop = threading.Event()
        hammers = [
            threading.Thread(target=_hammer, args=(url, answers, stop)) for _ in range(clients)
        ]
        try:
            for hammer in hammers:
                hammer.start()
            yield Hammered(served.process, errors, answers)
        finally:
            stop.set()
            for hammer in hammers:
                hammer.join(60)


@dataclasses.dataclass
class Hammered:
    server: subprocess.Popen[bytes]
    errors: Path
    answers: list[Answer]

    def wait(self, enough: int) -> None:
        _wait(self.answers, enough, self.server, self.errors)


def test_two_workers_serve_the_new_revision_from_the_same_moment(
    project: Path, tmp_path: Path
) -> None:
    with _hammering(project, tmp_path, 4) as run:
        run.wait(200)  # both workers are up and answering churn@1
        _deploy(project, 2)
        deadline = time.monotonic() + 300
        while sum(1 for *_, version in run.answers if version == 2) < 300:
            assert run.server.poll() is None, run.errors.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the new revision was never served"
            time.sleep(0.05)
    seen = list(run.answers)
    first_new = min(answered for _, answered, version in seen if version == 2)
    late_old = [(sent, answered) for sent, answered, version in seen if version == 1]
    late_old = [(sent, answered) for sent, answered in late_old if sent > first_new]
    assert {version for *_, version in seen} == {1, 2}
    assert late_old == [], f"{len(late_old)} requests sent after a churn@2 answer got churn@1"
    assert "switches alone" not in run.errors.read_text(encoding="utf-8")


def test_two_workers_keep_serving_the_same_revision_when_nothing_changed(
    project: Path, tmp_path: Path
) -> None:
    with _hammering(project, tmp_path, 1) as run:
        run.wait(300)
    assert {version for *_, version in run.answers} == {1}
