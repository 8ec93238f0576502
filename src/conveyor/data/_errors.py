"""Errors specific to dataset versioning (the shared ones live in :mod:`conveyor.errors`)."""

from __future__ import annotations

from conveyor.errors import ConveyorError


class CheckoutConflictError(ConveyorError, FileExistsError):
    """``checkout`` would overwrite existing files whose content differs from the version."""

    code = "checkout_conflict"

    def __str__(self) -> str:
        return self.message


class NotATableError(ConveyorError, TypeError):
    """A table operation (``load``, schema diff) was asked of a file or folder dataset."""

    code = "not_a_table"
