"""``conveyor ui`` as a user runs it: a real process serving the pages on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conveyor.workspace import init_project
from server_support import free_port

pytestmark = pytest.mark.slow


def conveyor(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_ui_serves_the_pages_and_stops_on_sigterm(tmp_path: Path) -> None:
    init_project(tmp_path / "p", name="p")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "ui", "--port", str(port)],
        cwd=tmp_path / "p",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.2)
        assert answer is not None
        assert answer.status_code == 200
        assert "Environments" in answer.text
        assert httpx.get(f"http://127.0.0.1:{port}/audit", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"http://127.0.0.1:{port}/" in out


def test_ui_refuses_a_host_that_is_not_loopback(tmp_path: Path) -> None:
    init_project(tmp_path / "p", name="p")
    done = conveyor("ui", "--host", "0.0.0.0", cwd=tmp_path / "p")
    assert done.returncode == 1
    assert "loopback" in done.stderr + done.stdout
    assert "conveyor server" in done.stderr + done.stdout


def test_ui_on_a_taken_port_exits_6(tmp_path: Path) -> None:
    init_project(tmp_path / "p", name="p")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = conveyor("ui", "--port", str(port), cwd=tmp_path / "p")
    assert done.returncode == 6, done.stderr
    assert str(port) in done.stderr + done.stdout
