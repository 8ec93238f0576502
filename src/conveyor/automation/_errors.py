"""Errors of the automation agent."""

from __future__ import annotations

from conveyor.errors import ConveyorError

__all__ = ["AutomationError", "LeaseLostError"]


class AutomationError(ConveyorError):
    """The agent cannot evaluate a trigger or carry on a retraining job."""

    code = "automation_error"


class LeaseLostError(AutomationError):
    """Another agent holds the lease now; this one must stop acting.

    Raised inside a write transaction (which then rolls back), so a step of an agent that
    lost its lease is never recorded.
    """

    code = "lease_lost"
