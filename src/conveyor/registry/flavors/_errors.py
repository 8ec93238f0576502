"""Errors raised while saving, loading or validating models of a flavor."""

from __future__ import annotations

from typing import Any

from conveyor.core import UntrustedContentError
from conveyor.errors import ConveyorError


class FlavorError(ConveyorError):
    """A model could not be saved or loaded by its flavor."""

    code = "flavor_error"


class UnsupportedModelError(FlavorError, TypeError):
    """No registered flavor can save this model."""

    code = "unsupported_model"


class UntrustedModelError(FlavorError, UntrustedContentError):
    """A model (or its stored files) needs code or types that are not trusted; nothing ran.

    Also an :class:`conveyor.core.UntrustedContentError`, the load policy's refusal.
    """

    code = "untrusted_model"


class FlavorNotFoundError(FlavorError, KeyError):
    """No flavor is registered under the requested name."""

    code = "flavor_not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class SignatureError(ConveyorError, ValueError):
    """Input does not match a model's signature.

    Attributes:
        missing: Signature columns absent from the input (sorted as in the signature).
        extra: Input columns the signature does not know (only when extras are refused).
        column: The column holding a value of the wrong type, or ``None``.
        value: The first offending value of ``column`` (``None`` when not a type error).
        status: The HTTP status a server should answer with: 400 for missing or extra
            columns, 422 for a wrongly typed value.
    """

    code = "signature_mismatch"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        missing: list[str] | None = None,
        extra: list[str] | None = None,
        column: str | None = None,
        value: Any = None,
        **fields: Any,
    ) -> None:
        super().__init__(
            message,
            hint=hint,
            missing=list(missing or []),
            extra=list(extra or []),
            column=column,
            value=value,
            **fields,
        )
        self.missing: list[str] = list(missing or [])
        self.extra: list[str] = list(extra or [])
        self.column = column
        self.value = value

    @property
    def status(self) -> int:
        """400 for a column-set mismatch, 422 for a wrongly typed value."""
        return 422 if self.column is not None else 400

    @property
    def kind(self) -> str:
        """``"missing_columns"``, ``"extra_columns"`` or ``"wrong_type"``."""
        if self.column is not None:
            return "wrong_type"
        return "missing_columns" if self.missing else "extra_columns"
