"""Errors of the model registry (the shared ones live in :mod:`conveyor.errors`)."""

from __future__ import annotations

from conveyor.errors import ConveyorError, VersionNotFoundError


class ModelNotFoundError(ConveyorError, KeyError):
    """No model with the given name is registered."""

    code = "model_not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class ModelVersionNotFoundError(VersionNotFoundError):
    """The model exists but has no such version (or no ready version at all)."""

    code = "model_version_not_found"


class AliasNotFoundError(ConveyorError, KeyError):
    """The model exists but has no alias with the given name."""

    code = "alias_not_found"

    def __str__(self) -> str:
        return self.message


class ModelStateError(ConveyorError, ValueError):
    """The operation does not fit the version's state (archived, aliased, untrusted)."""

    code = "model_state_error"


class RegistrationError(ConveyorError, ValueError):
    """A model could not be registered (bad arguments, unsaveable model, unknown run)."""

    code = "registration_error"
