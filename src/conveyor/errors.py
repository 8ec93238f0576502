"""The one exception hierarchy of conveyor.

Every failure a caller may handle differently has its own class under
:class:`ConveyorError`; where a built-in exception fits, the class inherits it too
(``DatasetNotFoundError`` is a ``KeyError``), so ordinary ``except`` clauses keep working.
Each error carries structured fields and a message that says what failed, the value that
failed, and what to do next. The CLI prints ``str(error)`` and, if present, ``error.hint``,
and exits with the class's ``exit_code`` (1, or 3 for integrity failures).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "http_status",
    "ArtifactNotFoundError",
    "ConfigError",
    "ConveyorError",
    "DataSourceError",
    "DatasetNotFoundError",
    "EncryptionKeyError",
    "IntegrityError",
    "InvalidNameError",
    "InvalidVersionError",
    "LockFileError",
    "ProjectNotFoundError",
    "StoreBusyError",
    "StoreDisconnectedError",
    "StoreError",
    "StoreFullError",
    "StoreReadOnlyError",
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
    #: The CLI's exit code for this failure (documented in ``conveyor --help``).
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields: dict[str, Any] = fields

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:  # keep errors picklable across processes
        return (_rebuild, (type(self), self.message, self.hint, self.fields))


def http_status(exc: BaseException) -> int:
    """The HTTP status that answers ``exc`` on the servers and in the web UI.

    A class says its own with a ``status`` attribute (conflicts 409, a store that cannot
    answer 503, security errors 401/403/429, ...); otherwise a failed lookup (a
    ``KeyError``) is 404 and anything else 400.
    """
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool) and 400 <= status < 600:
        return status
    if isinstance(exc, LookupError):
        return 404
    return 400


def _rebuild(
    cls: type[ConveyorError], message: str, hint: str | None, fields: dict[str, Any]
) -> ConveyorError:
    return cls(message, hint=hint, **fields)


class ConfigError(ConveyorError, ValueError):
    """``conveyor.yaml`` or a ``CONVEYOR_*`` variable is missing, malformed or invalid."""

    code = "config_error"


class ProjectNotFoundError(ConfigError):
    """No ``conveyor.yaml`` in the folder or any parent: the command needs a project."""

    code = "project_not_found"


class InvalidNameError(ConveyorError, ValueError):
    """A user-supplied name (dataset, model, environment) is not allowed."""

    code = "invalid_name"


class InvalidVersionError(ConveyorError, ValueError):
    """A version number is not a whole number a store can hold (e.g. 0, -1, 20 digits)."""

    code = "invalid_version"


class StoreError(ConveyorError):
    """The metadata store failed (connection, migration, or a constraint)."""

    code = "store_error"


class StoreBusyError(StoreError):
    """The metadata store stayed locked by another writer past the busy timeout."""

    code = "store_busy"
    status = 503


class StoreDisconnectedError(StoreError):
    """The connection to the metadata database was lost (server restarted or unreachable)."""

    code = "store_disconnected"
    status = 503


class StoreFullError(StoreError, OSError):
    """The disk holding a store is full (ENOSPC, or the database reports it full)."""

    code = "store_full"


class StoreReadOnlyError(StoreError, OSError):
    """A store cannot be written: its file, folder or file system is read-only."""

    code = "store_read_only"


class IntegrityError(ConveyorError):
    """Stored bytes or records do not match their recorded hash (corruption or tampering)."""

    code = "integrity_error"
    exit_code = 3
    status = 409


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
