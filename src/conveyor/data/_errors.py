"""Errors specific to dataset versioning (the shared ones live in :mod:`conveyor.errors`)."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class CheckoutConflictError(ConveyorError, FileExistsError):
    """``checkout`` would overwrite existing files whose content differs from the version."""

    code = "checkout_conflict"
    status = 409

    def __str__(self) -> str:
        return self.message


class CheckoutPathError(ConveyorError, ValueError):
    """``checkout`` would write through a symbolic link inside the destination folder.

    Raised before anything is written; the message names the link and where it points.
    """

    code = "checkout_path"


class CheckoutFormatError(ConveyorError, ValueError):
    """The format asked of ``checkout`` does not fit the version or the destination.

    For example ``--format csv`` of a folder version, ``--format original`` of a table
    built from a DataFrame, or Parquet bytes into a ``.csv`` destination.
    """

    code = "checkout_format"


class NotATableError(ConveyorError, TypeError):
    """A table operation (``load``, schema diff) was asked of a file or folder dataset."""

    code = "not_a_table"


class DatasetVersionConflictError(ConveyorError):
    """Another writer recorded the version number a new version was meant to take.

    Raised by :meth:`BaseDatasetRecords.add_version` when the version given is not the one
    after the dataset's latest; the registry reads the latest again and retries.
    """

    code = "dataset_version_conflict"
    status = 409
