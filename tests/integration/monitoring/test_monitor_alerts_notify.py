"""Without an explicit notifier, monitor_run announces through ``ws.notifier()``: an alert
reaches the configured webhook signed, with the payload the report records."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from monitor_support import NOW, log_traffic, open_project, table

from conveyor.monitoring import monitor_run
from conveyor.notify import SIGNATURE_HEADER, verify_signature

SECRET = "whsec-mon-4Tq"


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        valid = verify_signature(body, SECRET, self.headers.get(SIGNATURE_HEADER))
        type(self).received.append({"valid": valid, "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def receiver() -> Iterator[tuple[int, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port, handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_an_alert_is_posted_signed_to_the_configured_webhook(
    tmp_path: Path, receiver: tuple[int, type[_Receiver]]
) -> None:
    port, handler = receiver
    hooks = (
        "webhooks:\n  allowed_hosts: [127.0.0.1]\n  endpoints:\n"
        f"    - {{url: 'http://127.0.0.1:{port}/hook', secret_env: HOOK_SECRET,"
        " events: ['monitor.*']}\n"
    )
    with open_project(tmp_path / "p", extra=hooks, environ={"HOOK_SECRET": SECRET}) as ws:
        drifted = table(1_500, seed=8)
        drifted["x1"] += 2.0
        log_traffic(ws, drifted, prefix="f", end=NOW)
        report = monitor_run(ws, "production", window="1h", now=lambda: NOW)
    # Closing the workspace delivered what its notifier had queued.
    assert report.verdict == "drift"
    [post] = handler.received
    assert post["valid"]
    assert post["body"]["event"] == "monitor.alert"
    recorded = {key: value for key, value in report.alerts[0].items() if key != "event"}
    assert post["body"]["payload"] == json.loads(json.dumps(recorded, default=str))
    assert post["body"]["payload"]["incident"] == "production:churn:drift"
    assert post["body"]["payload"]["drifted"] == ["x1"]
