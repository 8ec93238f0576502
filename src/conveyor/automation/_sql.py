"""The automation records in the metadata store (SQLite or PostgreSQL).

The lease is an ``agent_leases`` row; the events are ``automation_events`` rows, unique by
``idempotency_key``; trigger state is a ``trigger_state`` row per trigger. Every change
runs in one audited write transaction of the store, which serialises writers
database-wide: the fence (a read of the lease row) and the change it guards commit
together, and "look for the key, then insert" cannot race. Renewing the lease is a single
conditional ``UPDATE`` outside the audit chain (a heartbeat).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from conveyor.automation._base import BaseAutomationRecords
from conveyor.automation._errors import AutomationError
from conveyor.automation._records import (
    AutomationEvent,
    LeaseClaim,
    LeaseInfo,
    NewEvent,
    TriggerState,
)
from conveyor.core import Actor
from conveyor.store import MetadataStore, WriteTx
from conveyor.store._automation_models import AgentLeaseRow, AutomationEventRow, TriggerStateRow


class _Taken(Exception):
    """Rolls back a takeover attempt that lost the race (no audit event is written)."""


class SqlAutomationRecords(BaseAutomationRecords):
    """Automation records in the ``agent_leases``, ``automation_events`` and
    ``trigger_state`` tables.

    Args:
        store: The metadata store.

    Example:
        >>> records = SqlAutomationRecords(ws.store)  # doctest: +SKIP
        >>> [event.kind for event in records.events(limit=2)]  # doctest: +SKIP
        ['deploy', 'outcome']
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    # -- the lease --------------------------------------------------------------------

    def lease(self, name: str) -> LeaseInfo | None:
        """The ``agent_leases`` row ``name``."""
        with self.store.read() as session:
            row = session.get(AgentLeaseRow, name)
            return None if row is None else _lease(row)

    def take_lease(
        self, actor: Actor, *, name: str, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Insert or take over the lease row in an audited transaction."""
        try:
            with self.store.write(actor, "agent.lease", f"lease:{name}") as tx:
                row = tx.session.get(AgentLeaseRow, name)
                if row is not None and row.holder != holder and row.expires_at > now:
                    raise _Taken
                previous = None if row is None else row.holder
                if row is None:
                    row = AgentLeaseRow(name=name, holder=holder)
                    tx.session.add(row)
                row.holder = holder
                row.acquired_at = now
                row.expires_at = expires_at
                tx.details.update({"holder": holder, "previous": previous})
        except _Taken:
            return False
        return True

    def renew_lease(self, name: str, *, holder: str, expires_at: datetime) -> bool:
        """One conditional ``UPDATE`` of the row's expiry, outside the audit chain."""
        with Session(self.store.engine) as session, session.begin():
            result = session.execute(
                update(AgentLeaseRow)
                .where(AgentLeaseRow.name == name, AgentLeaseRow.holder == holder)
                .values(expires_at=expires_at)
            )
            return bool(getattr(result, "rowcount", 0))

    # -- trigger state ----------------------------------------------------------------

    def trigger_states(self) -> list[TriggerState]:
        """Every ``trigger_state`` row, by trigger name."""
        with self.store.read() as session:
            rows = session.scalars(select(TriggerStateRow).order_by(TriggerStateRow.trigger))
            return [_state(row) for row in rows]

    def arm_trigger(
        self,
        actor: Actor,
        *,
        trigger: str,
        model: str,
        kind: str,
        armed_at: datetime,
        cursor: dict[str, Any],
    ) -> TriggerState:
        """Insert the ``trigger_state`` row unless it exists, in an audited transaction."""
        with self.store.write(actor, "agent.arm", f"trigger:{trigger}") as tx:
            row = tx.session.get(TriggerStateRow, trigger)
            if row is None:
                row = TriggerStateRow(
                    trigger=trigger,
                    model=model,
                    armed_at=armed_at,
                    running=False,
                    cursor=cursor,
                    attempts=0,
                )
                tx.session.add(row)
                tx.session.flush()
            tx.details.update({"kind": kind, "model": model})
            return _state(row)

    def fire_trigger(
        self,
        actor: Actor,
        claim: LeaseClaim,
        event: NewEvent,
        *,
        cooldown_until: datetime,
        cursor: dict[str, Any],
    ) -> TriggerState:
        """Fence, insert the trigger event and update the state row in one transaction."""
        with self.store.write(actor, "agent.trigger", f"trigger:{event.trigger}") as tx:
            _fence(tx, claim)
            recorded = _record_once(tx, event, parent_id=None)
            row = _state_row(tx, event.trigger)
            row.last_fired_at = event.at
            row.cooldown_until = cooldown_until
            row.running = True
            row.current_event_id = recorded.id
            row.cursor = cursor
            row.attempt = None
            row.attempts = 0
            tx.details.update({"reason": event.reason, "event": recorded.id})
            return _state(row)

    def start_attempt(
        self, actor: Actor, claim: LeaseClaim, *, trigger: str, attempt: dict[str, Any]
    ) -> TriggerState:
        """Fence and update the state row's attempt in one transaction."""
        with self.store.write(actor, "agent.attempt", f"trigger:{trigger}") as tx:
            _fence(tx, claim)
            row = _state_row(tx, trigger)
            row.attempt = attempt
            row.attempts += 1
            tx.details.update({"attempt": attempt, "attempts": row.attempts})
            return _state(row)

    def finish_job(
        self, actor: Actor, claim: LeaseClaim, *, trigger: str, outcome: str | None
    ) -> TriggerState:
        """Fence and clear the state row's running flag and attempt in one transaction."""
        with self.store.write(actor, "agent.finish", f"trigger:{trigger}") as tx:
            _fence(tx, claim)
            row = _state_row(tx, trigger)
            row.running = False
            row.attempt = None
            tx.details.update({"outcome": outcome})
            return _state(row)

    # -- events -----------------------------------------------------------------------

    def record_events(
        self,
        actor: Actor,
        claim: LeaseClaim,
        events: Sequence[NewEvent],
        *,
        action: str,
        target: str,
        parent_id: int | None,
    ) -> list[AutomationEvent]:
        """Fence and insert each event whose key is new, in one transaction."""
        recorded: list[AutomationEvent] = []
        with self.store.write(actor, action, target) as tx:
            _fence(tx, claim)
            for event in events:
                stored = _record_once(tx, event, parent_id=parent_id)
                recorded.append(stored)
                parent_id = stored.id
        return recorded

    def events(
        self, *, limit: int | None = None, model: str | None = None
    ) -> list[AutomationEvent]:
        """The newest ``limit`` rows (of ``model``), returned by id."""
        query = select(AutomationEventRow)
        if model is not None:
            query = query.where(AutomationEventRow.model == model)
        query = query.order_by(AutomationEventRow.id.desc())
        if limit is not None:
            query = query.limit(max(limit, 0))
        with self.store.read() as session:
            found = [_event(row) for row in session.scalars(query)]
        return sorted(found, key=lambda event: event.id)

    def firing_events(self, root_id: int) -> dict[str, AutomationEvent]:
        """The root row and every row whose key starts with the root's key and ``/``."""
        with self.store.read() as session:
            root = session.get(AutomationEventRow, root_id)
            if root is None:
                return {}
            prefix = root.idempotency_key + "/"
            rows = session.scalars(
                select(AutomationEventRow).where(
                    AutomationEventRow.idempotency_key.startswith(prefix, autoescape=True)
                )
            )
            found = {row.kind: _event(row) for row in rows}
            found["trigger"] = _event(root)
            return found


def _fence(tx: WriteTx, claim: LeaseClaim) -> None:
    """Raise inside ``tx`` (rolling it back) unless ``claim`` holds now."""
    row = tx.session.get(AgentLeaseRow, claim.name)
    if not claim.holds(None if row is None else _lease(row)):
        raise claim.lost(None if row is None else row.holder)


def _record_once(tx: WriteTx, event: NewEvent, *, parent_id: int | None) -> AutomationEvent:
    """The event with ``event.key``: the stored one, or ``event`` appended now."""
    existing = tx.session.scalars(
        select(AutomationEventRow).where(AutomationEventRow.idempotency_key == event.key)
    ).first()
    if existing is not None:
        return _event(existing)
    row = AutomationEventRow(
        trigger=event.trigger,
        kind=event.kind,
        model=event.model,
        reason=event.reason,
        details=event.details,
        parent_id=parent_id,
        idempotency_key=event.key,
        at=event.at,
        actor=tx.actor.name,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.details.setdefault("events", []).append({"id": row.id, "kind": event.kind, "key": event.key})
    return _event(row)


def _state_row(tx: WriteTx, trigger: str) -> TriggerStateRow:
    row = tx.session.get(TriggerStateRow, trigger)
    if row is None:
        raise AutomationError(
            f"Trigger {trigger!r} has no recorded state; the agent arms a trigger before it fires.",
            hint="Let the agent evaluate the trigger once (`conveyor agent --once`).",
            trigger=trigger,
        )
    return row


def _lease(row: AgentLeaseRow) -> LeaseInfo:
    return LeaseInfo(
        name=row.name, holder=row.holder, expires_at=row.expires_at, acquired_at=row.acquired_at
    )


def _event(row: AutomationEventRow) -> AutomationEvent:
    return AutomationEvent(
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


def _state(row: TriggerStateRow) -> TriggerState:
    return TriggerState(
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
