"""What a data check measured, before the check framework wraps it in a ``CheckResult``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """The measurement of one data check.

    Attributes:
        passed: Whether the requirement held.
        value: The measured value (a float, or a dict of named values), JSON-able.
        threshold: What was required, JSON-able.
        explanation: A human sentence: what was measured against what was required.
        details: JSON-able extra data (per-column findings; ``plot`` for the HTML report).
        status: ``passed``/``failed`` by default; ``skipped`` when nothing could be judged.
    """

    passed: bool
    value: Any
    threshold: Any
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)
    status: str | None = None

    @property
    def final_status(self) -> str:
        """The status to record: the explicit one, else from ``passed``."""
        return self.status or ("passed" if self.passed else "failed")


def fmt(value: Any) -> str:
    """A number for an explanation, with 4 significant digits."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number:.4g}" if math.isfinite(number) else str(value)


def pct(share: float) -> str:
    """A share as a percentage for an explanation (``0.125`` -> ``"12.5%"``)."""
    return f"{100 * share:.3g}%"


def json_value(value: Any) -> Any:
    """A JSON-safe scalar: NumPy numbers become Python ones, NaN and infinity ``None``."""
    if value is None or isinstance(value, bool | str):
        return value
    if hasattr(value, "item"):  # NumPy and pandas scalars
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | bool | str):
        return value
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
