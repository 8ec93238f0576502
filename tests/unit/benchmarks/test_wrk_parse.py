"""wrk's report, as captured from wrk 4.1 (Debian), reads back into requests/s, p50, p99 and errors.

The JSON line comes from the ``done()`` hook of the benchmark's Lua script; the text report is
the fallback. A real wrk run against a real uvicorn server on 127.0.0.1 closes the loop.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[3]))
from benchmarks import _wrk

CAPTURED = """\
Running 2s test @ http://127.0.0.1:18765/
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   529.94us    1.10ms  13.11ms   96.14%
    Req/Sec    21.36k     2.29k   23.18k    80.95%
  Latency Distribution
     50%  331.00us
     75%  436.00us
     90%  547.00us
     99%    6.91ms
  44678 requests in 2.10s, 6.99MB read
Requests/sec:  21288.05
Transfer/sec:      3.33MB
CONVEYOR_WRK {"requests": 44678, "duration_us": 2098736, "socket_errors": 0, \
"status_errors": 0, "p50_us": 331.0, "p99_us": 6905.0}
"""

WITH_ERRORS = """\
Running 1s test @ http://127.0.0.1:18765/invocations
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.40ms    3.10ms  41.20ms   90.00%
    Req/Sec    80.10     10.20   100.00     70.00%
  Latency Distribution
     50%   11.52ms
     75%   13.00ms
     90%   15.10ms
     99%    1.20s
  81 requests in 1.01s, 20.10KB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:     80.20
Transfer/sec:     19.90KB
"""


def _without_hook(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith(_wrk.MARKER))


def test_the_hook_line_gives_exact_throughput_and_percentiles() -> None:
    result = _wrk.parse(CAPTURED)
    assert result.rps == pytest.approx(44678 / 2.098736)
    assert result.p50_ms == pytest.approx(0.331)
    assert result.p99_ms == pytest.approx(6.905)
    assert result.errors == 0


def test_the_text_report_is_the_fallback_and_agrees_with_the_hook() -> None:
    text = _wrk.parse(_without_hook(CAPTURED))
    hook = _wrk.parse(CAPTURED)
    assert text.rps == pytest.approx(21288.05)
    assert text.rps == pytest.approx(hook.rps, rel=0.01)
    assert (text.p50_ms, text.p99_ms) == pytest.approx((hook.p50_ms, hook.p99_ms), rel=0.01)


def test_the_text_report_counts_socket_errors_and_non_2xx_and_reads_seconds() -> None:
    result = _wrk.parse(WITH_ERRORS)
    assert result.errors == 1 + 2 + 7
    assert result.p50_ms == pytest.approx(11.52)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.rps == pytest.approx(80.2)


def test_the_hook_counts_socket_and_status_errors() -> None:
    line = (
        f'{_wrk.MARKER}{{"requests": 10, "duration_us": 1000000, "socket_errors": 2, '
        '"status_errors": 3, "p50_us": 1500.0, "p99_us": 2500.0}'
    )
    result = _wrk.parse(line)
    assert (result.rps, result.p50_ms, result.p99_ms, result.errors) == (10.0, 1.5, 2.5, 5)


@pytest.mark.parametrize(
    "output",
    [
        "",
        "unable to connect to 127.0.0.1:1 Connection refused\n",
        CAPTURED.split("  Latency D", maxsplit=1)[0],
    ],
)
def test_output_without_figures_is_refused_naming_what_is_missing(output: str) -> None:
    with pytest.raises(_wrk.WrkOutputError, match=r"has no .*(Requests/sec|50%).*--latency"):
        _wrk.parse(output)


def test_a_duration_is_whole_seconds_and_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_BENCH_SCALE", "0.01")
    assert _wrk.duration() == 1
    monkeypatch.setenv("CONVEYOR_BENCH_SCALE", "2")
    assert _wrk.duration(5.0) == 10


_BARE = r"""
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    ok = scope["method"] == "POST" and body == b'{"rows": [1, 2]}'
    await send({"type": "http.response.start", "status": 200 if ok else 400,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (`make wrk`)")
@pytest.mark.parametrize(("body", "errors"), [(b'{"rows": [1, 2]}', False), (b"{}", True)])
def test_wrk_posts_the_body_to_a_real_server(body: bytes, errors: bool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", _BARE, str(port)])
    try:
        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        wrk, _version = _wrk.find()
        assert wrk is not None
        result = _wrk.run(wrk, f"http://127.0.0.1:{port}/", body, connections=2, seconds=1)
    finally:
        server.terminate()
        server.wait(30)
    assert result.rps > 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert (result.errors > 0) is errors
