"""The workspace's notifier: built once from the full settings (environment included),
flushed when the workspace closes, and every delivery it could not make is recorded as
``notify.failed`` with a redacted URL; without webhooks, events go to the log."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.notify import (
    LOGGER_NAME,
    LogNotifier,
    NotifyConfigError,
)
from conveyor.notify._webhook import NOT_DELIVERED
from conveyor.workspace import Workspace
from webhook_receiver import WebhookReceiver

SECRET = "whsec-Lq0x9"
PASSWORD = "pw-Hn31"
TOKEN = "tok-Yb72"


@pytest.fixture
def receiver() -> Iterator[tuple[int, WebhookReceiver]]:
    with WebhookReceiver(SECRET) as hook:
        yield hook.port, hook


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _open(root: Path, port: int, env: dict[str, str], **webhooks: Any) -> Workspace:
    url = f"http://ops:{PASSWORD}@127.0.0.1:{port}/hook?token={TOKEN}"
    extra = "".join(f"  {key}: {value}\n" for key, value in webhooks.items())
    (root / "conveyor.yaml").write_text(
        "project: {name: hooks}\n"
        "webhooks:\n  allowed_hosts: [127.0.0.1]\n" + extra + "  endpoints:\n"
        f'    - {{url: "{url}", secret_env: HOOK_SECRET}}\n',
        encoding="utf-8",
    )
    return Workspace.open(root, env=env, search_parents=False)


def test_the_notifier_signs_with_the_secret_from_the_environment_it_was_opened_with(
    tmp_path: Path, receiver: tuple[int, WebhookReceiver]
) -> None:
    port, handler = receiver
    ws = _open(tmp_path, port, {"HOOK_SECRET": SECRET})
    try:
        assert ws.notifier() is ws.notifier()  # built once
        assert ws.notifier().send("deploy.promote", {"environment": "production"}) == 1
    finally:
        ws.close()  # flushes: the post is made before close returns
    assert [r["valid"] for r in handler.received] == [True]
    assert handler.received[0]["body"]["payload"] == {"environment": "production"}


def test_a_missing_secret_is_a_configuration_error_without_the_url_secrets(
    tmp_path: Path,
) -> None:
    ws = _open(tmp_path, _closed_port(), {})
    try:
        with pytest.raises(NotifyConfigError, match="HOOK_SECRET") as info:
            ws.notifier()
        shown = str(info.value) + repr(info.value.fields)
        assert PASSWORD not in shown
        assert TOKEN not in shown
    finally:
        ws.close()


def test_close_records_what_it_could_not_deliver_as_notify_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ws = _open(tmp_path, _closed_port(), {"HOOK_SECRET": SECRET}, max_attempts=20)
    with caplog.at_level(logging.DEBUG):
        ws.notifier().send("deploy.rollback", {"reason": "errors"})
        ws.close(notify_timeout_s=0.5)  # retries would take far longer than the bound
    with Workspace.open(tmp_path, env={}, search_parents=False) as again:
        failed = again.audit_log(action="notify.failed")
        everything = json.dumps(
            [e.details for e in again.audit_log()] + [e.target for e in again.audit_log()]
        )
    assert len(failed) == 1
    details = failed[0].details
    assert details["event"] == "deploy.rollback"
    assert NOT_DELIVERED in details["error"]
    assert details["url"].startswith("http://ops:***@127.0.0.1:")
    assert "token=***" in details["url"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "deploy.rollback" in logged
    for secret in (SECRET, PASSWORD, TOKEN):
        assert secret not in everything
        assert secret not in logged


def test_queued_deliveries_beyond_the_bound_are_each_recorded(
    tmp_path: Path, receiver: tuple[int, WebhookReceiver]
) -> None:
    port, handler = receiver
    handler.release.clear()  # the receiver holds the first post
    ws = _open(tmp_path, port, {"HOOK_SECRET": SECRET}, timeout_s=3)
    notifier = ws.notifier()
    for step in range(3):
        notifier.send("deploy.step", {"step": step})
    threading.Timer(1.0, handler.release.set).start()
    ws.close(notify_timeout_s=0.2)
    with Workspace.open(tmp_path, env={}, search_parents=False) as again:
        failed = again.audit_log(action="notify.failed")
    delivered = len(handler.received)
    assert delivered + len(failed) == 3  # each event is either delivered or recorded
    assert len(failed) >= 2
    assert all(NOT_DELIVERED in event.details["error"] for event in failed)


def test_a_workspace_without_webhooks_logs_events_and_closes_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: quiet}\n", encoding="utf-8")
    with (
        caplog.at_level(logging.INFO, logger=LOGGER_NAME),
        Workspace.open(tmp_path, env={}, search_parents=False) as ws,
    ):
        assert isinstance(ws.notifier(), LogNotifier)
        assert ws.notifier().send("monitor.alert", {"environment": "production"}) == 1
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        (LOGGER_NAME, "WARNING", 'monitor.alert {"environment": "production"}')
    ]
    with Workspace.open(tmp_path, env={}, search_parents=False) as ws:
        assert ws.audit_log(action="notify.failed") == []


def test_a_payload_quoting_a_url_is_posted_without_its_credentials(
    tmp_path: Path, receiver: tuple[int, WebhookReceiver]
) -> None:
    port, handler = receiver
    with _open(tmp_path, port, {"HOOK_SECRET": SECRET}) as ws:
        ws.notifier().send(
            "monitor.alert",
            {"report": f"https://viewer:{PASSWORD}@reports.example/r/7?sig={TOKEN}", "n": 3},
        )
    assert len(handler.received) == 1
    payload = handler.received[0]["body"]["payload"]
    assert payload == {"report": "https://viewer:***@reports.example/r/7?sig=***", "n": 3}
    assert handler.received[0]["valid"]
