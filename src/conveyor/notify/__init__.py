"""Notifications: telling CI systems and chat what happened (deployments, alerts, agents).

This package owns how events leave conveyor. :class:`Notifier` posts each event to the
webhook endpoints configured under ``webhooks:`` whose patterns match it, from a
background thread so the caller never waits: bodies are JSON (or Slack's ``{"text"}``),
signed with HMAC-SHA256 in ``X-Conveyor-Signature``, retried with exponential backoff
within a bounded number of attempts and time, only to hosts in ``allowed_hosts`` (others
are refused when the notifier is built), and a delivery that fails for good is recorded as
a ``notify.failed`` audit event. :class:`LogNotifier` writes events to the
``conveyor.notify`` logger. Both implement :class:`BaseNotifier`.
"""

from __future__ import annotations

from conveyor.notify._base import LOGGER_NAME, BaseNotifier, LogNotifier
from conveyor.notify._errors import NotifyConfigError
from conveyor.notify._signing import SIGNATURE_HEADER, sign_body, verify_signature
from conveyor.notify._webhook import Delivery, Notifier

__all__ = [
    "BaseNotifier",
    "Delivery",
    "LOGGER_NAME",
    "LogNotifier",
    "Notifier",
    "NotifyConfigError",
    "SIGNATURE_HEADER",
    "sign_body",
    "verify_signature",
]
