"""Checks of what callers hand :class:`~conveyor.tracking.RunTracker` before it is recorded.

Known run kinds and statuses, JSON-able parameters, tags and output metadata, and a usable
heartbeat timeout; a backend (:class:`~conveyor.tracking.BaseRunRecords`) relies on them and
does not check again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from conveyor.config import RunsConfig
from conveyor.errors import ConveyorError
from conveyor.tracking._records import OutputRecord


def heartbeat_timeout(value: float | None) -> float:
    """The heartbeat timeout in seconds: ``value``, or the setting's default when ``None``."""
    if value is None:
        return RunsConfig().heartbeat_timeout_s
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConveyorError(
            f"Heartbeat timeout {value!r} is not a positive number of seconds.",
            hint="Pass a number of seconds > 0 (setting runs.heartbeat_timeout_s).",
            heartbeat_timeout_s=repr(value),
        )
    return float(value)


def clean_outputs(outputs: Sequence[OutputRecord]) -> list[OutputRecord]:
    """The outputs with their metadata checked JSON-able (and copied)."""
    return [replace(out, meta=jsonable("meta", out.meta)) for out in outputs]


def check_choice(field: str, value: str, allowed: frozenset[str]) -> None:
    """Refuse a run ``field`` value (kind, status) that is not one of ``allowed``."""
    if value not in allowed:
        raise ConveyorError(
            f"Run {field} {value!r} is not one of {', '.join(sorted(allowed))}.",
            hint=f"Pass one of the listed {field} values.",
            field=field,
            value=value,
        )


def jsonable(field: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON round-tripped copy of ``value`` (``{}`` for ``None``); refuses non-JSON values."""
    if value is None:
        return {}
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ConveyorError(
            f"Run {field} {dict(value)!r} are not JSON-able: {exc}.",
            hint="Use strings, numbers, booleans, None, lists and dicts "
            "(convert other values with str(...)); NaN is not allowed.",
            field=field,
        ) from exc
