"""The DataFrame path's second gate: the registry signature's own ``validate``."""

from __future__ import annotations

from typing import Any

from conveyor.registry.flavors import SignatureError
from conveyor.serving._errors import InvalidValueError, MissingColumnsError, RequestError
from conveyor.serving._model import ServedModel


def validate_frame(model: ServedModel, frame: Any) -> Any:
    """``frame`` coerced by ``model.signature.validate`` (as is when there is no signature).

    Raises:
        MissingColumnsError: The signature reports missing or extra columns (400).
        InvalidValueError: The signature reports a wrongly typed value (422).
    """
    validate = getattr(model.signature, "validate", None)
    if validate is None:
        return frame
    try:
        return validate(frame)
    except SignatureError as exc:
        raise _as_request_error(exc) from exc


def _as_request_error(exc: SignatureError) -> RequestError:
    if exc.column is not None:
        return InvalidValueError(
            exc.message, hint=exc.hint, column=exc.column, value=repr(exc.value)
        )
    return MissingColumnsError(exc.message, hint=exc.hint, missing=exc.missing, extra=exc.extra)
