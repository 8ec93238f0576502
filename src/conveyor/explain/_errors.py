"""Errors raised while explaining predictions."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class ExplainError(ConveyorError):
    """A model's predictions could not be explained (unsupported output or inputs)."""

    code = "explain_error"
