"""Webhook delivery against real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.config import WebhooksConfig
from conveyor.core import Actor
from conveyor.notify import WebhookNotifier
from conveyor.store import open_store
from webhook_receiver import WebhookReceiver

SECRET = "s3cret"


@pytest.fixture
def receiver() -> Iterator[tuple[str, WebhookReceiver]]:
    with WebhookReceiver(SECRET, refuse_invalid=True) as hook:
        yield hook.url, hook


def _config(url: str, **extra: Any) -> WebhooksConfig:
    endpoint = {"url": url, "secret_env": "HOOK_SECRET", "events": ["deploy.*"]}
    return WebhooksConfig(allowed_hosts=("127.0.0.1",), endpoints=(endpoint,), **extra)


def test_a_receiver_verifies_the_hmac_of_the_delivered_event(
    receiver: tuple[str, WebhookReceiver],
) -> None:
    url, handler = receiver
    notifier = WebhookNotifier(_config(url), env={"HOOK_SECRET": SECRET})
    try:
        assert notifier.send("deploy.promote", {"environment": "production", "revision": 4}) == 1
        assert notifier.flush(timeout=10)
    finally:
        notifier.close()
    [got] = handler.received
    assert got["valid"] is True
    assert got["event"] == "deploy.promote"
    assert got["body"]["payload"] == {"environment": "production", "revision": 4}
    assert notifier.deliveries[0].ok
    assert notifier.deliveries[0].attempts == 1


def test_a_briefly_failing_receiver_gets_the_event_after_retries(
    receiver: tuple[str, WebhookReceiver],
) -> None:
    url, handler = receiver
    handler.fail_first = 2
    notifier = WebhookNotifier(_config(url), env={"HOOK_SECRET": SECRET}, backoff_s=0.01)
    try:
        notifier.send("deploy.advance", {"environment": "production"})
        assert notifier.flush(timeout=10)
    finally:
        notifier.close()
    assert len(handler.received) == 3
    assert notifier.deliveries[0].ok
    assert notifier.deliveries[0].attempts == 3


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_receiver_that_is_down_never_blocks_and_the_failure_is_audited(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'meta.db'}")
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    notifier = WebhookNotifier(
        _config(url, max_attempts=3), env={"HOOK_SECRET": SECRET}, store=store,
        actor=Actor("controller"), backoff_s=0.05,
    )  # fmt: skip
    try:
        assert notifier.send("deploy.rollback", {"environment": "production"}) == 1
        # send returned before any attempt finished: the delivery is still in flight
        assert notifier.deliveries == []
        assert notifier.flush(timeout=10)
        [delivery] = notifier.deliveries
        assert not delivery.ok
        assert delivery.attempts == 3
        assert "ConnectError" in (delivery.error or "")
        [event] = store.audit_log(action="notify.failed")
        assert event.target == "webhook:127.0.0.1"
        assert event.details["event"] == "deploy.rollback"
        assert event.details["attempts"] == 3
    finally:
        notifier.close()
        store.close()


def test_a_refused_body_is_not_retried(receiver: tuple[str, WebhookReceiver]) -> None:
    url, handler = receiver
    notifier = WebhookNotifier(_config(url), env={"HOOK_SECRET": "wrong"}, backoff_s=0.01)
    try:
        notifier.send("deploy.pause", {})
        assert notifier.flush(timeout=10)
    finally:
        notifier.close()
    assert [r["valid"] for r in handler.received] == [False]
    assert notifier.deliveries[0].status == 401
