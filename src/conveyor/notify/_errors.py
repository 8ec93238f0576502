"""Errors of notifications."""

from __future__ import annotations

from conveyor.errors import ConfigError


class NotifyConfigError(ConfigError):
    """A webhook endpoint is not allowed or cannot be signed (refused at configuration)."""

    code = "notify_config_error"
