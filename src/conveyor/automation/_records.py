"""Automation records: the event lineage and per-trigger state, read and written.

Every write here runs inside a caller's audited transaction (:class:`WriteTx`) so an
event, the trigger state it changes and the lease check that fences it commit together.
:func:`record_once` is the idempotency primitive: an event whose key exists is returned
as it is, never written twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.core import isoformat
from conveyor.store import AutomationEventRow, TriggerStateRow, WriteTx

__all__ = ["EVENT_KINDS", "AutomationEvent", "TriggerState", "record_once"]

#: Kinds of automation events, in lineage order.
EVENT_KINDS = ("trigger", "run", "register", "gate", "deploy", "outcome", "error")


@dataclass(frozen=True)
class AutomationEvent:
    """One decision of the agent, linked to the step that caused it.

    Attributes:
        id: Row id.
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

    @classmethod
    def from_row(cls, row: AutomationEventRow) -> AutomationEvent:
        """Build from a database row."""
        return cls(
            id=row.id,
            trigger=row.trigger,
            kind=row.kind,
            model=row.model,
            reason=row.reason,
            details=dict(row.details),
            parent_id=row.parent_id,
            idempotency_key=row.idempotency_key,
            at=row.at,
            actor=row.actor,
        )

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
    """What the agent remembers about one trigger (see ``TriggerStateRow``)."""

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

    @classmethod
    def from_row(cls, row: TriggerStateRow) -> TriggerState:
        """Build from a database row."""
        return cls(
            trigger=row.trigger,
            model=row.model,
            armed_at=row.armed_at,
            last_fired_at=row.last_fired_at,
            cooldown_until=row.cooldown_until,
            running=row.running,
            current_event_id=row.current_event_id,
            cursor=dict(row.cursor or {}),
            attempt=dict(row.attempt) if row.attempt is not None else None,
            attempts=row.attempts,
        )

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


def record_once(
    tx: WriteTx,
    *,
    key: str,
    trigger: str,
    kind: str,
    model: str,
    reason: str,
    details: dict[str, Any],
    parent_id: int | None,
    at: datetime,
) -> AutomationEvent:
    """Append the event with idempotency key ``key`` unless it exists; return the stored one."""
    existing = tx.session.scalars(
        select(AutomationEventRow).where(AutomationEventRow.idempotency_key == key)
    ).first()
    if existing is not None:
        return AutomationEvent.from_row(existing)
    row = AutomationEventRow(
        trigger=trigger,
        kind=kind,
        model=model,
        reason=reason,
        details=details,
        parent_id=parent_id,
        idempotency_key=key,
        at=at,
        actor=tx.actor.name,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.details.setdefault("events", []).append({"id": row.id, "kind": kind, "key": key})
    return AutomationEvent.from_row(row)


def events_of(session: Session, root_id: int) -> dict[str, AutomationEvent]:
    """The events of one firing by kind: the root and every event keyed under it."""
    root = session.get(AutomationEventRow, root_id)
    if root is None:
        return {}
    prefix = root.idempotency_key + "/"
    rows = session.scalars(
        select(AutomationEventRow).where(
            AutomationEventRow.idempotency_key.startswith(prefix, autoescape=True)
        )
    )
    found = {row.kind: AutomationEvent.from_row(row) for row in rows}
    found["trigger"] = AutomationEvent.from_row(root)
    return found


def list_events(
    session: Session, *, limit: int | None = None, model: str | None = None
) -> list[AutomationEvent]:
    """Events oldest first; ``limit`` keeps the newest ones."""
    query = select(AutomationEventRow)
    if model is not None:
        query = query.where(AutomationEventRow.model == model)
    query = query.order_by(AutomationEventRow.id.desc())
    if limit is not None:
        query = query.limit(max(limit, 0))
    events = [AutomationEvent.from_row(row) for row in session.scalars(query)]
    return sorted(events, key=lambda event: event.id)


def list_states(session: Session) -> list[TriggerState]:
    """Every trigger's state, by name."""
    rows = session.scalars(select(TriggerStateRow).order_by(TriggerStateRow.trigger))
    return [TriggerState.from_row(row) for row in rows]
