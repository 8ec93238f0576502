"""Errors AutoML raises about the data it is given."""

from __future__ import annotations

from conveyor.tuning._errors import TuneError

__all__ = ["UnusableColumnError"]


class UnusableColumnError(TuneError):
    """A feature column holds values no search pipeline can encode.

    ``fields["column"]`` names the column and ``fields["dtype"]`` its dtype.
    """

    code = "unusable_column"
