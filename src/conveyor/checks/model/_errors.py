"""Errors raised by the built-in model checks when their inputs cannot be evaluated."""

from __future__ import annotations

from conveyor.checks._base import CheckError


class ModelCheckInputError(CheckError, ValueError):
    """A model check cannot run on what it was given.

    Examples: an empty holdout, a slice or sensitive column that the holdout lacks, a
    metric the model cannot produce (ROC AUC without probabilities), an unknown metric name.
    The check framework records the exception as an ``error`` result with this message.
    """

    code = "model_check_input"
