"""What a version records after it is saved: its idempotency key and its gate decision.

Both live inside the version's lineage record (under ``idempotency_key`` and
``evaluation``), so a retried registration finds the version it made, and the decision
taken on a version is read with the version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.core import isoformat, utcnow
from conveyor.registry._errors import RegistrationError
from conveyor.registry._models import EVALUATION_KEY

#: The stored lineage key of an idempotent registration.
KEY_FIELD = "idempotency_key"
#: The longest idempotency key accepted (a CI build id, a job id, a hash).
MAX_KEY_LENGTH = 200
#: The source named for a metric the gate measured on the holdout.
HOLDOUT = "holdout"
#: The gate verdicts a version can record.
VERDICTS = ("PROMOTE", "HOLD", "REJECT")


def check_key(key: object) -> str | None:
    """Return ``key`` if it may be an idempotency key (printable text, 1-200 characters).

    Raises:
        RegistrationError: it is not.
    """
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        shown = repr(key)
        raise RegistrationError(
            f"Invalid idempotency key {shown[:60]}{'...' if len(shown) > 60 else ''}: use 1-"
            f"{MAX_KEY_LENGTH} printable characters.",
            hint="Pass something that names the attempt, such as a CI build id.",
        )
    return key


def with_decision(
    lineage: dict[str, Any] | None,
    *,
    verdict: str,
    reasons: Sequence[str],
    champion: str | None,
    extra: dict[str, Any] | None = None,
    measured: Sequence[str] = (),
) -> dict[str, Any]:
    """A copy of a stored lineage with the gate decision put in its evaluation record.

    Raises:
        RegistrationError: ``verdict`` is not PROMOTE, HOLD or REJECT.
    """
    if verdict not in VERDICTS:
        raise RegistrationError(
            f"Unknown gate verdict {verdict!r}.",
            hint=f"Record one of {', '.join(VERDICTS)}.",
            verdict=verdict,
        )
    updated = dict(lineage or {})
    evaluation = dict(updated.get(EVALUATION_KEY) or {})
    evaluation.update(dict(extra or {}))
    if measured:
        sources = dict(evaluation.get("metric_sources") or {})
        sources.update(dict.fromkeys(measured, HOLDOUT))
        evaluation["metric_sources"] = sources
    evaluation["decision"] = {
        "verdict": verdict,
        "reasons": [str(reason) for reason in reasons],
        "champion": champion,
        "at": isoformat(utcnow()),
    }
    updated[EVALUATION_KEY] = evaluation
    return updated


def finite(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Metric values as floats, a non-finite one as ``None``."""
    # JSON has no NaN: PostgreSQL would refuse it, so a non-finite value is stored as null.
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        number = float(value)
        out[str(key)] = number if math.isfinite(number) else None
    return out
