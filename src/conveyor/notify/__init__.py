"""Notifications: telling CI systems and chat what happened (deployments, alerts, agents).

This package owns how events leave conveyor. :class:`BaseNotifier` is the one interface
every caller announces through, and :func:`resolve_notifier` the one rule choosing the
implementation (``Workspace.notifier()`` calls it): with endpoints under ``webhooks:``,
:class:`WebhookNotifier` posts each event to the endpoints whose patterns match it, from a
background thread so the caller never waits: bodies are JSON (or Slack's ``{"text"}``),
signed with HMAC-SHA256 in ``X-Conveyor-Signature``, retried with exponential backoff
within a bounded number of attempts and time, only to hosts in ``allowed_hosts`` (others
are refused when the notifier is built), and a delivery that fails for good is recorded as
a ``notify.failed`` audit event. Without endpoints, :class:`LogNotifier` writes events to
the ``conveyor.notify`` logger. :class:`MemoryNotifier` keeps them in memory, for tests.
"""

from __future__ import annotations

from conveyor.notify._base import (
    LOGGER_NAME,
    WARNING_EVENTS,
    BaseNotifier,
    LogNotifier,
    MemoryNotifier,
)
from conveyor.notify._errors import NotifyConfigError
from conveyor.notify._resolve import resolve_notifier
from conveyor.notify._signing import SIGNATURE_HEADER, sign_body, verify_signature
from conveyor.notify._webhook import Delivery, WebhookNotifier

#: Former name of :class:`WebhookNotifier`, kept importable for one release.
Notifier = WebhookNotifier

__all__ = [
    "BaseNotifier",
    "Delivery",
    "LOGGER_NAME",
    "LogNotifier",
    "MemoryNotifier",
    "Notifier",
    "NotifyConfigError",
    "SIGNATURE_HEADER",
    "WARNING_EVENTS",
    "WebhookNotifier",
    "resolve_notifier",
    "sign_body",
    "verify_signature",
]
