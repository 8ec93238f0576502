"""Errors raised by tuning and AutoML."""

from __future__ import annotations

from conveyor.errors import ConveyorError

__all__ = ["SearchSpaceError", "TuneError"]


class TuneError(ConveyorError, ValueError):
    """A tuning call was given bad arguments, or its study could not run."""

    code = "tune_error"


class SearchSpaceError(TuneError):
    """A search-space entry is not a valid parameter spec; ``fields["param"]`` names it."""

    code = "search_space_error"
