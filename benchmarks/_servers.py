"""Server processes for the benchmarks: a free port, start until ready, stop."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(argv: list[str], url: str, cwd: Path | None = None) -> subprocess.Popen[bytes] | None:
    """Start ``argv`` and wait until ``url`` answers 200; ``None`` (and why, on stderr) if the
    process exits first or four minutes pass (a loaded machine starts slowly)."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            sys.stderr.write(f"server {argv[:3]} exited: {err[-2000:]}\n")
            return None
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    return None


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc``, killing it after 30 s."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()
