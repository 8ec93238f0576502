"""One rule picks the notifier: the configured webhooks, else the ``conveyor.notify`` log;
the names callers used before stay importable for one release, with a warning."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from conveyor.config import Settings, load_settings
from conveyor.notify import (
    BaseNotifier,
    LogNotifier,
    NotifyConfigError,
    WebhookNotifier,
    resolve_notifier,
)


def _settings(root: Path, yaml: str, env: dict[str, str] | None = None) -> Settings:
    (root / "conveyor.yaml").write_text("project: {name: hooks}\n" + yaml, encoding="utf-8")
    return load_settings(root, env=env or {})


HOOKS = (
    "webhooks:\n  allowed_hosts: [127.0.0.1]\n  endpoints:\n"
    '    - {url: "http://127.0.0.1:9/hook", secret_env: HOOK_SECRET}\n'
)


def test_without_webhooks_events_go_to_the_log(tmp_path: Path) -> None:
    notifier = resolve_notifier(_settings(tmp_path, ""))
    assert isinstance(notifier, LogNotifier)
    assert notifier.logger.name == "conveyor.notify"


def test_with_webhooks_events_are_posted_signed_with_the_settings_environment(
    tmp_path: Path,
) -> None:
    notifier = resolve_notifier(_settings(tmp_path, HOOKS, {"HOOK_SECRET": "s3"}))
    try:
        assert isinstance(notifier, WebhookNotifier)
        assert [e.url for e in notifier.config.endpoints] == ["http://127.0.0.1:9/hook"]
    finally:
        notifier.close(timeout=0)


def test_an_explicit_environment_is_where_secrets_are_read(tmp_path: Path) -> None:
    settings = _settings(tmp_path, HOOKS, {"HOOK_SECRET": "s3"})
    with pytest.raises(NotifyConfigError, match="'HOOK_SECRET', which is not set"):
        resolve_notifier(settings, env={})


def test_notifier_is_the_webhook_notifier_under_its_former_name() -> None:
    from conveyor.notify import Notifier

    assert Notifier is WebhookNotifier


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("conveyor.monitoring", "AlertSink"),
        ("conveyor.monitoring", "LogSink"),
        ("conveyor.monitoring", "default_notifier"),
        ("conveyor.rollout", "EventSink"),
    ],
)
def test_the_former_announcement_names_warn_and_point_at_conveyor_notify(
    module: str, name: str
) -> None:
    package = importlib.import_module(module)
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{name} is deprecated; use "):
        value = getattr(package, name)
    assert value is not None
    assert name not in package.__all__


def test_the_former_alert_sink_names_resolve_to_the_notify_classes() -> None:
    import conveyor.monitoring as monitoring

    with pytest.warns(DeprecationWarning, match="use conveyor.notify.BaseNotifier"):
        assert monitoring.AlertSink is BaseNotifier
    with pytest.warns(DeprecationWarning, match="use conveyor.notify.LogNotifier"):
        assert monitoring.LogSink is LogNotifier


def test_monitoring_notifiers_is_accepted_ignored_and_warned_about(tmp_path: Path) -> None:
    with pytest.warns(FutureWarning, match=r"monitoring\.notifiers \(log, webhook\) is deprecated"):
        settings = _settings(tmp_path, "monitoring: {notifiers: [log, webhook]}\n")
    assert "notifiers" not in settings.config.monitoring.model_dump()
    assert isinstance(resolve_notifier(settings), LogNotifier)
