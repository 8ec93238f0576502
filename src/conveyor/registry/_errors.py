"""Errors of the model registry (the shared ones live in :mod:`conveyor.errors`)."""

from __future__ import annotations

from conveyor.errors import ConveyorError, VersionNotFoundError
from conveyor.registry._refs import format_versions


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


class TransferError(ConveyorError):
    """A version cannot be copied into another registry as it is (see ``copy_version``)."""

    code = "model_transfer_error"


# The messages every records backend raises, written once so that they read the same.


def no_model(name: str, names: list[str], *, listed: int = 10) -> ModelNotFoundError:
    """No model ``name``; ``names`` are the first known names, sorted (``listed`` + 1 of
    them tell whether more exist)."""
    shown = ", ".join(names[:listed]) + (", ..." if len(names) > listed else "")
    return ModelNotFoundError(
        f"No model named {name!r}. Models: {shown or 'none yet'}.",
        hint="Run `conveyor models list`, or register one with ws.models.register(...).",
        name=name,
        models=names[:listed],
    )


def no_version(name: str, number: int, versions: list[int]) -> ModelVersionNotFoundError:
    """Model ``name`` has no version ``number``; ``versions`` are its versions."""
    return ModelVersionNotFoundError(
        f"Model {name!r} has no version {number}. Versions: {format_versions(versions)}.",
        hint=f"Run `conveyor models show {name}`.",
        name=name,
        version=number,
    )


def no_ready_version(name: str, versions: list[int]) -> ModelVersionNotFoundError:
    """Every version of ``name`` is archived."""
    return ModelVersionNotFoundError(
        f"Model {name!r} has no ready version (all are archived). "
        f"Versions: {format_versions(versions)}.",
        hint=f"Load an archived one by number, e.g. {name}@1, or register a new one.",
        name=name,
    )


def no_alias(name: str, alias: str, aliases: dict[str, int]) -> AliasNotFoundError:
    """Model ``name`` has no alias ``alias``; ``aliases`` maps its aliases to versions."""
    listed = ", ".join(f"{a} -> {v}" for a, v in aliases.items()) or "none"
    return AliasNotFoundError(
        f"Model {name!r} has no alias {alias!r}. Aliases: {listed}.",
        hint=f"Set it with `conveyor models alias {name}@<version> {alias}`.",
        name=name,
        alias=alias,
        aliases=aliases,
    )


def archived_target(name: str, version: int, alias: str) -> ModelStateError:
    """An alias cannot point at an archived version."""
    return ModelStateError(
        f"Cannot point alias {alias!r} at {name}@{version}: the version is archived.",
        hint=f"Pick a ready version: `conveyor models show {name}`.",
        name=name,
        version=version,
        alias=alias,
    )


def still_aliased(name: str, version: int, pointing: list[str]) -> ModelStateError:
    """A version that aliases point at cannot be archived; ``pointing`` is sorted."""
    return ModelStateError(
        f"Cannot archive {name}@{version}: alias(es) {', '.join(pointing)} point at it.",
        hint=f"Move them first: `conveyor models alias {name}@<version> {pointing[0]}`.",
        name=name,
        version=version,
        aliases=pointing,
    )
