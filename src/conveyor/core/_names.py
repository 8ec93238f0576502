"""Validation of names that users choose (datasets, models, environments).

Names end up in URLs, file names and CLI arguments, so they are restricted to a safe
alphabet up front; nothing downstream has to escape them.
"""

from __future__ import annotations

import re

from conveyor.errors import InvalidNameError, InvalidVersionError

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?")

#: The largest version number a store can hold (a signed 64-bit integer column).
MAX_VERSION = 2**63 - 1


def validate_name(name: object, *, kind: str = "name") -> str:
    """Return ``name`` if it is a safe identifier, else raise :class:`InvalidNameError`.

    A valid name starts with a letter or digit, then has up to 127 letters, digits,
    ``.``, ``_`` or ``-``, and does not end with ``.`` (file systems drop or refuse a
    trailing dot, so ``model.`` and ``model`` would meet on disk); it contains no ``..``
    and no ``@`` (which separates versions).

    Args:
        name: The candidate name.
        kind: What is being named, for the message ("dataset name", "model name").

    Raises:
        InvalidNameError: naming the value and the allowed form.

    Example:
        >>> validate_name("orders-2024")
        'orders-2024'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        shown = repr(name)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise InvalidNameError(
            f"Invalid {kind} {shown}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit and not ending with '.' "
            "(no '/', '..', '@', spaces or control characters).",
            hint=f"Pick a {kind} such as 'orders' or 'churn-v2'.",
            name=name if isinstance(name, str) else repr(name),
        )
    return name


def validate_version(value: object, *, kind: str = "version", name: str | None = None) -> int:
    """Return ``value`` as a version number if it is one a store can hold.

    Accepts an ``int`` or a string of decimal digits (``"3"``, optionally ``"v3"``) between
    1 and :data:`MAX_VERSION`; anything else (``"0"``, ``"-1"``, a 20-digit number, ``"3.5"``)
    is refused before it reaches a database.

    Args:
        value: The candidate, e.g. the part after ``@`` in ``churn@3``.
        kind: What is being numbered, for the message ("model version").
        name: The name the version belongs to, for the message and the error's fields.

    Raises:
        InvalidVersionError: naming the value and the allowed range.

    Example:
        >>> validate_version("v7")
        7
    """
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        digits = value[1:] if value[:1] in ("v", "V") else value
        if 0 < len(digits) <= 19 and digits.isascii() and digits.isdigit():
            number = int(digits)
    if number is None or not 1 <= number <= MAX_VERSION:
        shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        where = f" of {name!r}" if name else ""
        raise InvalidVersionError(
            f"Invalid {kind}{where} {shown}: expected a whole number from 1 to {MAX_VERSION}.",
            hint="Versions are numbered 1, 2, 3, ...; list them with `conveyor models list` "
            "or `conveyor data log NAME`.",
            value=shown,
            name=name,
        )
    return number
