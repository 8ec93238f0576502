"""Errors of the monitoring package."""

from __future__ import annotations

from conveyor.errors import ConfigError, ConveyorError


class MonitoringError(ConveyorError):
    """A monitoring job could not run: no model to monitor, or no reference to compare with."""

    code = "monitoring_error"


class InvalidWindowError(ConfigError):
    """A window specification (``1h``, ``1d``, ``5000``) does not parse."""

    code = "invalid_window"


class DriftTestError(ConfigError):
    """A drift test name, threshold or per-feature setting is unknown or invalid."""

    code = "drift_test_error"
