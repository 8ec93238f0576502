"""Errors of the prediction log."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class PredictionLogError(ConveyorError):
    """Logged predictions could not be written or read back."""

    code = "prediction_log_error"


class InvalidPredictionRecordError(ConveyorError, ValueError):
    """A prediction record or feedback label is malformed (naive time, empty request id)."""

    code = "invalid_prediction_record"


class PiiKeyMissingError(PredictionLogError):
    """Personal-data columns are to be hashed, but the environment holds no key."""

    code = "pii_key_missing"
