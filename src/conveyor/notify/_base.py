"""The notifier extension point and the logging notifier."""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from conveyor.core import redact_value

LOGGER_NAME = "conveyor.notify"


class BaseNotifier(ABC):
    """Something that tells the outside world about an event.

    Contract: :meth:`send` returns quickly and never raises for a delivery problem (those
    are the notifier's to record); it may be called from any thread. :meth:`close`
    releases resources and is idempotent.
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

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release resources (idempotent)."""


class LogNotifier(BaseNotifier):
    """Writes each event as one INFO record to the ``conveyor.notify`` logger.

    Example:
        >>> LogNotifier().send("deploy.promote", {"env": "production"})
        1
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(LOGGER_NAME)

    def send(self, event: str, payload: Mapping[str, Any]) -> int:
        """Log the event and its payload as JSON, secrets redacted."""
        document = redact_value(dict(payload))
        self.logger.info("%s %s", event, json.dumps(document, default=str, sort_keys=True))
        return 1
