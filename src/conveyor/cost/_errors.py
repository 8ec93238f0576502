"""Errors of cost reports."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class CostError(ConveyorError):
    """A cost report could not be made."""

    code = "cost_error"


class InvalidSinceError(CostError, ValueError):
    """A ``--since`` window is not a positive duration conveyor can read."""

    code = "invalid_since"
