"""Load from ``wrk``, the reference HTTP load generator, beside the benchmarks' own clients.

``wrk`` comes from Debian's packages (``make wrk``, or :func:`find` installs it with apt the
way the Makefile does). It sends a fixed POST body from a Lua script; a ``done()`` hook in the
same script prints the figures as one JSON line (``CONVEYOR_WRK {...}``), and :func:`parse`
falls back to wrk's own text report when that line is missing. Durations are whole seconds
(wrk takes no fractions), ``CONVEYOR_BENCH_SCALE`` times the default, at least one second.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks import scale

MARKER = "CONVEYOR_WRK "

_SCRIPT = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open([==[%(body)s]==], "rb"))
wrk.body = file:read("*a")
file:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests": %%d, "duration_us": %%d, "socket_errors": %%d, '
    .. '"status_errors": %%d, "p50_us": %%.1f, "p99_us": %%.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class Result:
    """Throughput and latency of one load run; ``errors`` counts failed or non-2xx requests."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


class WrkOutputError(ValueError):
    """wrk's output held neither the JSON line of the ``done()`` hook nor its text report."""


def duration(default: float = 5.0) -> int:
    """Seconds per measurement: ``default`` times ``CONVEYOR_BENCH_SCALE``, at least 1."""
    return max(1, round(default * scale()))


def find() -> tuple[str | None, str]:
    """The path of ``wrk`` (installed with apt when missing and possible), or why there is none.

    Returns ``(path, version)`` or ``(None, reason)``.
    """
    path = shutil.which("wrk")
    if path is None and shutil.which("apt-get") is not None:
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        try:
            for argv in (
                [*sudo, "apt-get", "update", "-q"],
                [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"],
            ):
                subprocess.run(argv, check=True, capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            tail = detail.decode(errors="replace").strip().splitlines()[-1:] or [str(exc)]
            return None, f"wrk is not on PATH and apt-get could not install it ({tail[0]})"
        path = shutil.which("wrk")
    if path is None:
        return None, "wrk is not on PATH and there is no apt-get to install it (`make wrk`)"
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    version = (done.stdout or done.stderr).splitlines()[0] if (done.stdout or done.stderr) else ""
    return path, version.split(" [")[0].strip() or "wrk"


def run(wrk: str, url: str, body: bytes, connections: int, seconds: int) -> Result:
    """POST ``body`` to ``url`` from one wrk thread over ``connections`` keep-alive connections.

    One thread: on a two-core machine a second wrk thread takes CPU from the server under test,
    and one wrk thread sends far more requests per second than any server measured here.
    """
    with tempfile.TemporaryDirectory(prefix="conveyor-wrk-") as tmp:
        body_file, script = Path(tmp) / "body.json", Path(tmp) / "post.lua"
        body_file.write_bytes(body)
        script.write_text(_SCRIPT % {"body": body_file, "marker": MARKER})
        argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
                "--latency", "-s", str(script), url]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=seconds + 60)  # fmt: skip
    if done.returncode != 0:
        raise WrkOutputError(f"wrk exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return parse(done.stdout)


def parse(output: str) -> Result:
    """Read a :class:`Result` from wrk's stdout: the hook's JSON line, else the text report."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            seconds = data["duration_us"] / 1e6
            return Result(
                rps=data["requests"] / seconds if seconds > 0 else 0.0,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=int(data["socket_errors"]) + int(data["status_errors"]),
            )
    return _parse_text(output)


def _parse_text(output: str) -> Result:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    if rps is None or p50 is None or p99 is None:
        missing = [n for n, m in (("Requests/sec", rps), ("50%", p50), ("99%", p99)) if m is None]
        raise WrkOutputError(
            f"wrk's output has no {', '.join(missing)} line (run it with --latency); "
            f"it began: {output[:300]!r}"
        )
    errors = 0
    if status := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(status.group(1))
    if sockets := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in sockets.groups())
    return Result(
        rps=float(rps.group(1)),
        p50_ms=float(p50.group(1)) * _UNITS[p50.group(2)],
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)],
        errors=errors,
    )
