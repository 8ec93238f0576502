"""Reading a report window such as ``30d`` (``--since``)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from conveyor.core import utcnow
from conveyor.cost._errors import InvalidSinceError

_SINCE = re.compile(r"^\s*(-?\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: The longest window a report covers (ten years); longer ones are refused, not clamped.
MAX_SINCE = timedelta(days=3650)


def parse_since(text: str) -> timedelta:
    """Read a window: a positive whole number and a unit (``s``, ``m``, ``h``, ``d``, ``w``).

    Args:
        text: For example ``"30d"``, ``"12h"`` or ``"2w"``.

    Returns:
        The window as a :class:`~datetime.timedelta`.

    Raises:
        InvalidSinceError: ``text`` is not of that form, is zero or negative, or is longer
            than ten years (``3650d``).

    Example:
        >>> parse_since("30d").days
        30
    """
    match = _SINCE.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidSinceError(
            f"Invalid --since {text!r}: expected a whole number and a unit (s, m, h, d or w).",
            hint="For example --since 30d, --since 12h or --since 2w.",
            value=text,
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise InvalidSinceError(
            f"Invalid --since {text!r}: the window must be positive.",
            hint="Pass how far back to look, e.g. --since 30d.",
            value=text,
        )
    days = {"s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1, "w": 7}[match.group(2)]
    if amount * days > MAX_SINCE.days:
        raise InvalidSinceError(
            f"Invalid --since {text!r}: longer than the longest window, {MAX_SINCE.days}d.",
            hint="Pass at most --since 3650d (ten years), or leave --since out for all records.",
            value=text,
        )
    return timedelta(**{_UNITS[match.group(2)]: amount})


def since_start(since: str | timedelta | datetime | None) -> datetime | None:
    """The start of a window given as text (``30d``), a duration or a time (``None``: all).

    Raises:
        InvalidSinceError: as :func:`parse_since`; or a timezone-naive time.
    """
    if since is None or isinstance(since, datetime):
        if isinstance(since, datetime) and since.tzinfo is None:
            raise InvalidSinceError(
                f"since={since.isoformat()} has no time zone.",
                hint="Pass an aware datetime (datetime.now(UTC) - timedelta(days=30)).",
            )
        return since
    window = since if isinstance(since, timedelta) else parse_since(since)
    if window <= timedelta(0) or window > MAX_SINCE:
        raise InvalidSinceError(
            f"Invalid since window {window}: it must be positive and at most {MAX_SINCE.days}d.",
            hint="Pass e.g. timedelta(days=30).",
        )
    return utcnow() - window
