"""Showing text users stored (descriptions, reasons, metric names) without letting it act.

A description can hold anything, including terminal escape sequences (``ESC [ 2 J``
clears a screen; others rewrite the title or fake output). Shown text keeps its
characters visible but inert: every control character except newline and tab is written
as its ``\\xNN`` / ``\\uNNNN`` escape.
"""

from __future__ import annotations

import unicodedata

_KEPT = frozenset("\n\t")


def inert(text: object, *, newlines: bool = True) -> str:
    """``text`` with control characters (C0, DEL, C1, bidi and other format controls) escaped.

    Args:
        text: What to show (``None`` and non-text values are shown with ``str``).
        newlines: Keep newlines and tabs (``False`` escapes them too, for one-line cells).

    Example:
        >>> inert("ok\\x1b[2Jgone")
        'ok\\\\x1b[2Jgone'
    """
    value = "" if text is None else str(text)
    if value.isprintable() and (newlines or not any(c in value for c in _KEPT)):
        return value
    out: list[str] = []
    for char in value:
        if (newlines and char in _KEPT) or char == " ":
            out.append(char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
