"""The notifier extension point, the logging notifier and the in-memory one."""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from conveyor.core import redact_value

LOGGER_NAME = "conveyor.notify"
#: Events the log notifier writes at WARNING (shell-style patterns): alerts and failures.
WARNING_EVENTS = ("*.alert", "*failed")


class BaseNotifier(ABC):
    """Something that tells the outside world about an event.

    Every caller that announces events (the deployment controller, monitoring alerts,
    the automation agent) types against this class; ``Workspace.notifier()`` returns the
    configured one (:func:`conveyor.notify.resolve_notifier`).

    Contract: :meth:`send` returns quickly (it never waits on the network) and never raises
    for a delivery problem (those are the notifier's to record); it may be called from any
    thread. :meth:`flush` waits for queued deliveries. :meth:`close` delivers what is still
    queued within a bound, releases resources and is idempotent.
    """

    @abstractmethod
    def send(self, event: str, payload: Mapping[str, Any]) -> int:
        """Announce ``event`` (e.g. ``"deploy.promote"``) with a JSON-able payload.

        Returns:
            How many destinations the event was handed to.
        """

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until queued deliveries finished; ``True`` when none is left."""
        return True

    def close(self, timeout: float | None = None) -> None:  # noqa: B027 - optional hook
        """Deliver what is queued within ``timeout`` seconds, then release resources.

        Idempotent; the default has nothing to deliver or release.
        """


class LogNotifier(BaseNotifier):
    """Writes each event as one record to the ``conveyor.notify`` logger.

    The fallback when no webhook is configured. Alerts and failures (events matching
    ``warning_events``, by default ``*.alert`` and ``*failed``) are logged at WARNING,
    everything else at INFO; the payload is written as JSON with secrets redacted.
    Thread-safe.

    Args:
        logger: Where records go (default the ``conveyor.notify`` logger).
        warning_events: Shell-style patterns of the events logged at WARNING.

    Example:
        >>> LogNotifier().send("deploy.promote", {"env": "production"})
        1
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        warning_events: tuple[str, ...] = WARNING_EVENTS,
    ) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        self.warning_events = warning_events

    def __repr__(self) -> str:
        return f"LogNotifier({self.logger.name!r})"

    def send(self, event: str, payload: Mapping[str, Any]) -> int:
        """Log the event and its payload as JSON, secrets redacted."""
        warn = any(fnmatch.fnmatchcase(event, pattern) for pattern in self.warning_events)
        document = redact_value(dict(payload))
        self.logger.log(
            logging.WARNING if warn else logging.INFO,
            "%s %s",
            event,
            json.dumps(document, default=str, sort_keys=True),
        )
        return 1


class MemoryNotifier(BaseNotifier):
    """Keeps every event in memory, in order: the notifier of tests and embedded use.

    Thread-safe. Events sent after :meth:`close` are not kept (``send`` returns 0).

    Example:
        >>> notifier = MemoryNotifier()
        >>> notifier.send("monitor.alert", {"environment": "production"})
        1
        >>> notifier.events
        [('monitor.alert', {'environment': 'production'})]
    """

    def __init__(self) -> None:
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryNotifier({len(self._events)} events)"

    @property
    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """``(event, payload)`` pairs in the order they were sent (a copy)."""
        with self._lock:
            return list(self._events)

    def send(self, event: str, payload: Mapping[str, Any]) -> int:
        """Keep ``event`` and a copy of its payload."""
        with self._lock:
            if self._closed:
                return 0
            self._events.append((event, dict(payload)))
            return 1

    def close(self, timeout: float | None = None) -> None:
        """Stop keeping events (idempotent); those kept stay readable."""
        with self._lock:
            self._closed = True
