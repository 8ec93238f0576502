"""Window specifications: a duration (``30m``, ``1h``, ``1d``, ``2w``) or a number of rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from conveyor.monitoring._errors import InvalidWindowError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


@dataclass(frozen=True)
class WindowSpec:
    """Which slice of the prediction log a report covers.

    Exactly one of the attributes is set.

    Attributes:
        duration: The last ``duration`` of traffic, ending now.
        rows: The newest ``rows`` predictions.
    """

    duration: timedelta | None = None
    rows: int | None = None

    def __str__(self) -> str:
        if self.rows is not None:
            return f"{self.rows} rows"
        assert self.duration is not None
        return f"{int(self.duration.total_seconds())}s"


def parse_window(value: str | int | timedelta | WindowSpec) -> WindowSpec:
    """Parse ``"1h"``, ``"1d"``, ``"30m"``, ``"2w"``, ``"5000"`` (rows) or an int of rows.

    Raises:
        InvalidWindowError: the text is neither a positive duration nor a positive row count.

    Example:
        >>> parse_window("1h").duration
        datetime.timedelta(seconds=3600)
        >>> parse_window("5000").rows
        5000
    """
    if isinstance(value, WindowSpec):
        return value
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise _invalid(str(value))
        return WindowSpec(duration=value)
    if isinstance(value, bool):
        raise _invalid(repr(value))
    if isinstance(value, int):
        if value <= 0:
            raise _invalid(str(value))
        return WindowSpec(rows=value)
    match = _PATTERN.match(value)
    if match is None or int(match.group(1)) <= 0:
        raise _invalid(value)
    amount, unit = int(match.group(1)), match.group(2)
    if not unit:
        return WindowSpec(rows=amount)
    return WindowSpec(duration=timedelta(seconds=amount * _UNITS[unit]))


def _invalid(text: str) -> InvalidWindowError:
    return InvalidWindowError(
        f"The monitoring window {text!r} is not a duration or a row count.",
        hint="Use a duration such as 30m, 1h, 1d or 2w, or a positive number of rows such as 5000.",
        window=text,
    )
