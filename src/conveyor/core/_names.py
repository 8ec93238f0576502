"""Validation of names that users choose (datasets, models, environments).

Names end up in URLs, file names and CLI arguments, so they are restricted to a safe
alphabet up front; nothing downstream has to escape them.
"""

from __future__ import annotations

import re

from conveyor.errors import InvalidNameError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def validate_name(name: object, *, kind: str = "name") -> str:
    """Return ``name`` if it is a safe identifier, else raise :class:`InvalidNameError`.

    A valid name starts with a letter or digit, then has up to 127 letters, digits,
    ``.``, ``_`` or ``-``; it contains no ``..`` and no ``@`` (which separates versions).

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
            "starting with a letter or digit (no '/', '..', '@', spaces or control characters).",
            hint=f"Pick a {kind} such as 'orders' or 'churn-v2'.",
            name=name if isinstance(name, str) else repr(name),
        )
    return name
