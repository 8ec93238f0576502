"""What the automation agent records: events of its decisions, trigger state, the lease.

These are the values :class:`~conveyor.automation.BaseAutomationRecords` speaks: an
:class:`AutomationEvent` (one decision, linked to the step that caused it, unique by its
idempotency key), a :class:`NewEvent` to record, a :class:`TriggerState`, the
:class:`LeaseInfo` of a lease and the :class:`LeaseClaim` that fences every write of a
step to the holder of the lease.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.automation._errors import LeaseLostError
from conveyor.core import isoformat

__all__ = [
    "EVENT_KINDS",
    "AutomationEvent",
    "LeaseClaim",
    "LeaseInfo",
    "NewEvent",
    "TriggerState",
]

#: Kinds of automation events, in lineage order.
EVENT_KINDS = ("trigger", "run", "register", "gate", "deploy", "outcome", "error")


@dataclass(frozen=True)
class AutomationEvent:
    """One decision of the agent, linked to the step that caused it.

    Attributes:
        id: The event's id (ids grow in the order events are recorded).
        trigger: The trigger whose firing this belongs to.
        kind: One of :data:`EVENT_KINDS`.
        model: The model being retrained.
        reason: Why, in one sentence.
        details: Structured facts (run id, model version, decision, deployment revision).
        parent_id: The event this one follows (``None`` for a trigger firing).
        idempotency_key: Unique key derived from the firing and the step.
        at: When it was recorded.
        actor: Who recorded it.
    """

    id: int
    trigger: str
    kind: str
    model: str
    reason: str
    details: dict[str, Any]
    parent_id: int | None
    idempotency_key: str
    at: datetime
    actor: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "id": self.id,
            "trigger": self.trigger,
            "kind": self.kind,
            "model": self.model,
            "reason": self.reason,
            "details": self.details,
            "parent_id": self.parent_id,
            "idempotency_key": self.idempotency_key,
            "at": isoformat(self.at),
            "actor": self.actor,
        }


@dataclass(frozen=True)
class TriggerState:
    """What the agent remembers about one trigger between evaluations and across crashes.

    Attributes:
        trigger: The trigger's name.
        model: The model it retrains.
        armed_at: When the agent first saw the trigger.
        last_fired_at: When it last fired.
        cooldown_until: It does not fire again before this time.
        running: A firing's job is not finished.
        current_event_id: The trigger event of that firing.
        cursor: What the last firing acted on (cron slot, dataset version, report id).
        attempt: The process (``host``, ``pid``, ``at``) that last started the job's
            training, so a restarted agent finds what a killed one produced.
        attempts: How many times the job's training was started.
    """

    trigger: str
    model: str
    armed_at: datetime
    last_fired_at: datetime | None
    cooldown_until: datetime | None
    running: bool
    current_event_id: int | None
    cursor: dict[str, Any]
    attempt: dict[str, Any] | None
    attempts: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "trigger": self.trigger,
            "model": self.model,
            "armed_at": isoformat(self.armed_at),
            "last_fired_at": _iso(self.last_fired_at),
            "cooldown_until": _iso(self.cooldown_until),
            "running": self.running,
            "current_event_id": self.current_event_id,
            "cursor": self.cursor,
            "attempts": self.attempts,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


@dataclass(frozen=True)
class NewEvent:
    """An automation event to record (see :class:`AutomationEvent` for the fields).

    Example:
        >>> NewEvent(key="nightly/slot:2026-01-01T03:00:00+00:00", trigger="nightly",
        ...          kind="trigger", model="churn", reason="schedule reached",
        ...          at=datetime(2026, 1, 1, 3)).kind
        'trigger'
    """

    key: str
    trigger: str
    kind: str
    model: str
    reason: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease and until when."""

    name: str
    holder: str
    expires_at: datetime
    acquired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "name": self.name,
            "holder": self.holder,
            "expires_at": isoformat(self.expires_at),
            "acquired_at": isoformat(self.acquired_at),
        }


@dataclass(frozen=True)
class LeaseClaim:
    """The condition a step's write is fenced by: ``holder`` holds lease ``name``.

    A write fenced by a claim checks, in its own transaction and at the time of the check
    (``now()``), that the lease's holder is ``holder`` and that it has not expired.

    Attributes:
        name: The lease name.
        holder: The agent that claims to hold it.
        now: The lease clock, an aware UTC datetime.
    """

    name: str
    holder: str
    now: Callable[[], datetime]

    def holds(self, info: LeaseInfo | None) -> bool:
        """Whether ``info``, as stored now, is this holder's unexpired lease."""
        return info is not None and info.holder == self.holder and info.expires_at > self.now()

    def lost(self, holder: str | None) -> LeaseLostError:
        """The error a fenced write raises when ``holder`` (or nobody) holds the lease."""
        return LeaseLostError(
            f"Agent {self.holder} no longer holds lease {self.name!r} "
            f"(holder: {holder or 'nobody'}); it stops acting.",
            hint="Another agent took over; this one resumes when the lease is free.",
            lease=self.name,
            holder=holder,
        )
