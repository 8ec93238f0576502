"""The log notifier writes events without the secrets their payloads may quote."""

from __future__ import annotations

import logging

import pytest

from conveyor.notify import LOGGER_NAME, LogNotifier


def test_log_notifier_redacts_urls_and_secret_fields(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        LogNotifier().send(
            "monitor.alert",
            {"link": "https://u:pw-81@grafana.local/d?token=tk-82", "api_key": "ak-83", "n": 1},
        )
    logged = caplog.text
    for secret in ("pw-81", "tk-82", "ak-83"):
        assert secret not in logged
    assert "https://u:***@grafana.local/d?token=***" in logged
    assert '"n": 1' in logged
