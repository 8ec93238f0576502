"""The one exception hierarchy of conveyor.

Every failure a caller may handle differently has its own class under
:class:`ConveyorError`; where a built-in exception fits, the class inherits it too
(``DatasetNotFoundError`` is a ``KeyError``), so ordinary ``except`` clauses keep working.
Each error carries structured fields and a message that says what failed, the value that
failed, and what to do next. The CLI prints ``str(error)`` and, if present, ``error.hint``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactNotFoundError",
    "ConfigError",
    "ConveyorError",
    "DataSourceError",
    "DatasetNotFoundError",
    "EncryptionKeyError",
    "IntegrityError",
    "InvalidNameError",
    "LockFileError",
    "StoreBusyError",
    "StoreError",
    "VersionNotFoundError",
]


class ConveyorError(Exception):
    """Root of every error conveyor raises on purpose.

    Args:
        message: One sentence: what failed and the value that failed.
        hint: What the user should do next (shown on its own line by the CLI).
        **fields: Structured context (name, version, uri, ...) kept on ``self.fields``.
    """

    code: str = "conveyor_error"

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields: dict[str, Any] = fields

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:  # keep errors picklable across processes
        return (_rebuild, (type(self), self.message, self.hint, self.fields))


def _rebuild(
    cls: type[ConveyorError], message: str, hint: str | None, fields: dict[str, Any]
) -> ConveyorError:
    return cls(message, hint=hint, **fields)


class ConfigError(ConveyorError, ValueError):
    """``conveyor.yaml`` or a ``CONVEYOR_*`` variable is missing, malformed or invalid."""

    code = "config_error"


class InvalidNameError(ConveyorError, ValueError):
    """A user-supplied name (dataset, model, environment) is not allowed."""

    code = "invalid_name"


class StoreError(ConveyorError):
    """The metadata store failed (connection, migration, or a constraint)."""

    code = "store_error"


class StoreBusyError(StoreError):
    """The metadata store stayed locked by another writer past the busy timeout."""

    code = "store_busy"


class IntegrityError(ConveyorError):
    """Stored bytes or records do not match their recorded hash (corruption or tampering)."""

    code = "integrity_error"


class EncryptionKeyError(ConveyorError):
    """An encrypted object cannot be opened: the master key is missing or wrong."""

    code = "encryption_key_error"


class ArtifactNotFoundError(ConveyorError, KeyError):
    """No object with the given content hash exists in the artifact store."""

    code = "artifact_not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class DatasetNotFoundError(ConveyorError, KeyError):
    """No dataset with the given name exists."""

    code = "dataset_not_found"

    def __str__(self) -> str:
        return self.message


class VersionNotFoundError(ConveyorError, KeyError):
    """The named dataset (or model) exists but has no such version."""

    code = "version_not_found"

    def __str__(self) -> str:
        return self.message


class DataSourceError(ConveyorError, ValueError):
    """A path given to ``data add`` is missing, unreadable, or not a parsable table."""

    code = "data_source_error"


class LockFileError(ConveyorError, ValueError):
    """``conveyor.lock`` is malformed or pins something that cannot be restored."""

    code = "lock_file_error"
