"""Errors raised by the built-in data checks when their inputs cannot be evaluated."""

from __future__ import annotations

from conveyor.checks._base import CheckError


class DataCheckInputError(CheckError, ValueError):
    """A data check cannot run on what it was given.

    Examples: a dataset version that is not a table, an empty table, a target column that
    the table lacks, a check that needs a reference version when there is none. The check
    framework records the exception as an ``error`` result with this message.
    """

    code = "data_check_input"


class SchemaNotFoundError(CheckError, KeyError):
    """No stored schema exists for the dataset (or not the schema version asked for)."""

    code = "schema_not_found"

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message
