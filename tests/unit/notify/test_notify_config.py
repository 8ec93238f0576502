"""Notifier configuration, signatures, message formats and the log notifier."""

from __future__ import annotations

import json
import logging

import pytest

from conveyor.config import WebhookEndpoint, WebhooksConfig
from conveyor.notify import (
    LogNotifier,
    NotifyConfigError,
    WebhookNotifier,
    sign_body,
    verify_signature,
)
from conveyor.notify._webhook import _body


def test_signature_is_the_hmac_sha256_of_the_exact_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b'{"a":1}', hashlib.sha256).hexdigest()
    assert sign_body(b'{"a":1}', "k") == f"sha256={expected}"
    assert verify_signature(b'{"a":1}', "k", f"sha256={expected}")
    assert not verify_signature(b'{"a":2}', "k", f"sha256={expected}")
    assert not verify_signature(b'{"a":1}', "other", f"sha256={expected}")
    assert not verify_signature(b'{"a":1}', "k", None)


def test_a_host_outside_the_allow_list_is_refused_at_config_time() -> None:
    with pytest.raises(ValueError, match=r"endpoint host 'evil\.example' is not in allowed_hosts"):
        WebhooksConfig(allowed_hosts=("127.0.0.1",), endpoints=({"url": "http://evil.example/h"},))
    # built without validation (e.g. model_construct), the notifier still refuses it
    config = WebhooksConfig.model_construct(
        allowed_hosts=("127.0.0.1",),
        endpoints=(WebhookEndpoint(url="https://evil.example/hook"),),
        max_attempts=3,
        timeout_s=1.0,
    )
    with pytest.raises(NotifyConfigError, match=r"'evil\.example', which is not in") as info:
        WebhookNotifier(config)
    assert info.value.fields["host"] == "evil.example"
    assert "allowed_hosts" in (info.value.hint or "")


def test_a_missing_secret_variable_is_refused_naming_it() -> None:
    config = WebhooksConfig(
        allowed_hosts=("127.0.0.1",),
        endpoints=({"url": "http://127.0.0.1:1/h", "secret_env": "HOOK_SECRET"},),
    )
    with pytest.raises(NotifyConfigError, match="'HOOK_SECRET', which is not set"):
        WebhookNotifier(config, env={})


def test_events_matching_no_endpoint_are_not_queued() -> None:
    config = WebhooksConfig(
        allowed_hosts=("127.0.0.1",),
        endpoints=({"url": "http://127.0.0.1:1/h", "events": ["deploy.*"]},),
    )
    notifier = WebhookNotifier(config)
    try:
        assert notifier.send("monitor.alert", {}) == 0
    finally:
        notifier.close()


def test_slack_format_sends_text_only() -> None:
    endpoint = WebhookEndpoint(url="https://hooks.slack.com/x", format="slack")
    document = {"event": "deploy.rollback", "at": "t", "payload": {
        "environment": "production", "reason": "analysis failed"}}  # fmt: skip
    body = json.loads(_body(endpoint, document))
    assert body == {"text": "conveyor deploy.rollback [production]: analysis failed"}


def test_log_notifier_writes_the_event_to_the_conveyor_notify_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="conveyor.notify"):
        assert LogNotifier().send("deploy.promote", {"environment": "production"}) == 1
    assert caplog.records[0].name == "conveyor.notify"
    assert caplog.records[0].getMessage() == 'deploy.promote {"environment": "production"}'


@pytest.mark.parametrize(
    ("event", "level"),
    [
        ("monitor.alert", logging.WARNING),
        ("agent.retrain_failed", logging.WARNING),
        ("notify.failed", logging.WARNING),
        ("monitor.recovered", logging.INFO),
        ("deploy.rollback", logging.INFO),
    ],
)
def test_log_notifier_writes_alerts_and_failures_at_warning(
    caplog: pytest.LogCaptureFixture, event: str, level: int
) -> None:
    with caplog.at_level(logging.DEBUG, logger="conveyor.notify"):
        LogNotifier().send(event, {"environment": "production"})
    assert [(r.name, r.levelno) for r in caplog.records] == [("conveyor.notify", level)]
    assert caplog.records[0].getMessage() == f'{event} {{"environment": "production"}}'
