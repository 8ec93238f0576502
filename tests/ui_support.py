"""The web UI under test: the demo's workspace, built once per test process, and clients.

``demo_folder()`` plays ``conveyor demo --fast`` once per process (about 50 s) and returns
its project folder: data versions, runs with steps and trials, gated model versions, a
canary that promoted and one that rolled back, drift reports and the agent's retraining.
Tests that only read use it as it is; tests that change something work on ``shop_copy``.
Mark UI tests ``pytest.mark.xdist_group("ui")`` so one worker builds the demo once.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from conveyor.ui import create_ui_app
from conveyor.workspace import Workspace
from server_support import serve_app

_lock = threading.Lock()
_built: dict[str, Path] = {}
#: What ``conveyor demo --fast --keep-serving`` printed, and what its web UI answered at
#: ``/`` before the servers it left running were stopped.
played: dict[str, str] = {}

_LEFT_RUNNING = re.compile(r"(http://127\.0\.0\.1:\d+)/? \(pid (\d+)\)")


def demo_folder() -> Path:
    """The demo's ``shop`` project folder (read only).

    Built once per test run: the xdist workers of one run share it (a file lock makes the
    others wait for the first), so the demo plays once and its servers never compete for
    ports with another copy of it.
    """
    with _lock:
        if "shop" not in _built:
            root = _shared_root()
            root.mkdir(parents=True, exist_ok=True)
            with (root / "lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    if not (root / "played.json").is_file():
                        _play(root)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
            played.update(json.loads((root / "played.json").read_text(encoding="utf-8")))
            _built["shop"] = root / "demo" / "shop"
            _built["demo"] = root / "demo"
        return _built["shop"]


def _shared_root() -> Path:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    if re.fullmatch(r"[0-9a-f]{8,64}", run):
        return Path(tempfile.gettempdir()) / f"conveyor-ui-demo-{run[:16]}"
    return Path(tempfile.mkdtemp(prefix="conveyor-ui-demo-"))


def _play(root: Path) -> None:
    """Play ``conveyor demo --fast --keep-serving`` in ``root``; note what it printed and
    what its web UI answered, then stop the servers it left running."""
    demo = root / "demo"
    if demo.exists():  # a build that failed half-way
        shutil.rmtree(demo)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["COLUMNS"] = "240"
    command = [sys.executable, "-m", "conveyor", "demo", "--fast", "--keep-serving"]
    proc = subprocess.run(
        [*command, "--dir", str(demo)],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    left = _LEFT_RUNNING.findall(proc.stdout)
    seen: dict[str, str] = {}
    try:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        seen["stdout"] = proc.stdout
        ui_url = next((u for u, _ in left if "web UI" in _line_of(proc.stdout, u)), "")
        if ui_url:
            answer = httpx.get(ui_url + "/", timeout=30)
            seen["ui_status"] = str(answer.status_code)
            seen["ui_overview"] = answer.text
    finally:
        for _, pid in left:  # never leave the demo's servers behind
            _stop(int(pid))
    (root / "played.json").write_text(json.dumps(seen), encoding="utf-8")


def _line_of(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")


def _stop(pid: int) -> None:
    """SIGTERM ``pid`` and wait (at most 20 s) until it has exited (or is a zombie)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    status = Path(f"/proc/{pid}/status")
    while time.monotonic() < deadline:
        try:
            if "\nState:\tZ" in status.read_text():
                return
        except OSError:
            return
        time.sleep(0.1)


def demo_output_folder() -> Path:
    """The folder ``conveyor demo`` played in (``shop/``, ``report.html``, ``server.log``)."""
    demo_folder()
    return _built["demo"]


def shop_copy(dest: Path) -> Path:
    """A private copy of the demo's project in ``dest`` (for tests that change records)."""
    target = dest / "shop"
    shutil.copytree(demo_folder(), target, ignore=shutil.ignore_patterns("tmp", "cache"))
    return target


@contextmanager
def local_ui(ws: Workspace) -> Iterator[httpx.Client]:
    """The local UI (``conveyor ui``) over ``ws`` served by uvicorn on 127.0.0.1, and a
    client of it (no redirects followed, 30 s timeout)."""
    with (
        serve_app(create_ui_app(ws)) as (url, _),
        httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client,
    ):
        yield client


def csrf_of(html: str) -> str:
    """The viewer's CSRF token on a page (every page carries it in a meta tag and forms)."""
    marker = '<meta name="csrf" content="'
    if marker not in html:
        marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
