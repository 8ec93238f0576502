"""Errors raised while saving or loading step outputs.

Model outputs fail with the errors of :mod:`._model_errors`, which are also the registry
flavor errors they stand for.
"""

from __future__ import annotations

from conveyor.errors import ConveyorError


class MaterializerError(ConveyorError):
    """A value could not be saved or loaded by its materializer."""

    code = "materializer_error"


class UnsupportedTypeError(MaterializerError, TypeError):
    """No registered materializer can save a value of this type."""

    code = "unsupported_type"


class MaterializerNotFoundError(MaterializerError, KeyError):
    """No materializer is registered under the requested name."""

    code = "materializer_not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message
