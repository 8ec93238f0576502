"""Without an explicit notifier, monitor_run announces through ``ws.notifier()``: an alert
reaches the configured webhook signed, with the payload the report records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from monitor_support import NOW, log_traffic, open_project, table

from conveyor.monitoring import monitor_run
from webhook_receiver import WebhookReceiver

SECRET = "whsec-mon-4Tq"


@pytest.fixture
def receiver() -> Iterator[tuple[int, WebhookReceiver]]:
    with WebhookReceiver(SECRET) as hook:
        yield hook.port, hook


def test_an_alert_is_posted_signed_to_the_configured_webhook(
    tmp_path: Path, receiver: tuple[int, WebhookReceiver]
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
