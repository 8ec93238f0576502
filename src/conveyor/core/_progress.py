"""A minimal progress-reporting protocol, so library code never draws progress bars itself.

Library functions that take long accept an optional :data:`ProgressCallback`; the CLI passes
one that drives a rich progress bar, tests may pass a list's ``append``.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``callback(description, completed, total)``: units are the caller's (bytes or files);
#: ``total`` is 0 when unknown. Called from the working thread; must be cheap.
ProgressCallback = Callable[[str, int, int], None]


def no_progress(description: str, completed: int, total: int) -> None:
    """A :data:`ProgressCallback` that does nothing."""
