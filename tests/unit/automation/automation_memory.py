"""Automation records kept in memory: the fake of :class:`BaseAutomationRecords` for tests.

It shows what a backend other than SQL must do, and runs the shipped contract suite
(``test_automation_memory_records.py``); audit events go to a list of
``(actor, action, target, details)``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from conveyor.automation import (
    AutomationError,
    AutomationEvent,
    BaseAutomationRecords,
    LeaseClaim,
    LeaseInfo,
    NewEvent,
    TriggerState,
)
from conveyor.core import Actor, redact_value


class MemoryAutomationRecords(BaseAutomationRecords):
    """Everything in dicts, one lock serialising every change."""

    def __init__(self) -> None:
        self.audit: list[tuple[str, str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._leases: dict[str, LeaseInfo] = {}
        self._states: dict[str, TriggerState] = {}
        self._events: list[AutomationEvent] = []
        self._ids = itertools.count(1)

    def lease(self, name: str) -> LeaseInfo | None:
        return self._leases.get(name)

    def take_lease(
        self, actor: Actor, *, name: str, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        with self._lock:
            info = self._leases.get(name)
            if info is not None and info.holder != holder and info.expires_at > now:
                return False
            self._leases[name] = LeaseInfo(name, holder, expires_at, now)
            previous = None if info is None else info.holder
            self._audit(actor, "agent.lease", f"lease:{name}", holder=holder, previous=previous)
            return True

    def renew_lease(self, name: str, *, holder: str, expires_at: datetime) -> bool:
        with self._lock:
            info = self._leases.get(name)
            if info is None or info.holder != holder:
                return False
            self._leases[name] = replace(info, expires_at=expires_at)
            return True

    def trigger_states(self) -> list[TriggerState]:
        return [self._states[name] for name in sorted(self._states)]

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
        with self._lock:
            state = self._states.setdefault(
                trigger,
                TriggerState(
                    trigger, model, armed_at, None, None, False, None, dict(cursor), None, 0
                ),
            )
            self._audit(actor, "agent.arm", f"trigger:{trigger}", kind=kind, model=model)
            return state

    def fire_trigger(
        self,
        actor: Actor,
        claim: LeaseClaim,
        event: NewEvent,
        *,
        cooldown_until: datetime,
        cursor: dict[str, Any],
    ) -> TriggerState:
        with self._lock:
            self._fence(claim)
            state = self._state(event.trigger)
            new: list[dict[str, Any]] = []
            recorded = self._record_once(actor, event, None, new)
            state = replace(
                state,
                last_fired_at=event.at,
                cooldown_until=cooldown_until,
                running=True,
                current_event_id=recorded.id,
                cursor=dict(cursor),
                attempt=None,
                attempts=0,
            )
            self._states[event.trigger] = state
            details = {"events": new} if new else {}
            details.update({"reason": event.reason, "event": recorded.id})
            self._audit(actor, "agent.trigger", f"trigger:{event.trigger}", **details)
            return state

    def start_attempt(
        self, actor: Actor, claim: LeaseClaim, *, trigger: str, attempt: dict[str, Any]
    ) -> TriggerState:
        with self._lock:
            self._fence(claim)
            state = self._state(trigger)
            state = replace(state, attempt=dict(attempt), attempts=state.attempts + 1)
            self._states[trigger] = state
            self._audit(
                actor,
                "agent.attempt",
                f"trigger:{trigger}",
                attempt=attempt,
                attempts=state.attempts,
            )
            return state

    def finish_job(
        self, actor: Actor, claim: LeaseClaim, *, trigger: str, outcome: str | None
    ) -> TriggerState:
        with self._lock:
            self._fence(claim)
            state = replace(self._state(trigger), running=False, attempt=None)
            self._states[trigger] = state
            self._audit(actor, "agent.finish", f"trigger:{trigger}", outcome=outcome)
            return state

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
        with self._lock:
            self._fence(claim)
            new: list[dict[str, Any]] = []
            recorded = []
            for event in events:
                stored = self._record_once(actor, event, parent_id, new)
                recorded.append(stored)
                parent_id = stored.id
            self._audit(actor, action, target, **({"events": new} if new else {}))
            return recorded

    def events(
        self, *, limit: int | None = None, model: str | None = None
    ) -> list[AutomationEvent]:
        found = [e for e in self._events if model is None or e.model == model]
        if limit is not None:
            found = found[len(found) - max(limit, 0) :] if limit > 0 else []
        return found

    def firing_events(self, root_id: int) -> dict[str, AutomationEvent]:
        root = next((e for e in self._events if e.id == root_id), None)
        if root is None:
            return {}
        prefix = root.idempotency_key + "/"
        found = {e.kind: e for e in self._events if e.idempotency_key.startswith(prefix)}
        found["trigger"] = root
        return found

    def _fence(self, claim: LeaseClaim) -> None:
        info = self._leases.get(claim.name)
        if not claim.holds(info):
            raise claim.lost(None if info is None else info.holder)

    def _state(self, trigger: str) -> TriggerState:
        if trigger not in self._states:
            raise AutomationError(f"Trigger {trigger!r} is not armed.", hint="Arm it first.")
        return self._states[trigger]

    def _record_once(
        self,
        actor: Actor,
        event: NewEvent,
        parent_id: int | None,
        new: list[dict[str, Any]],
    ) -> AutomationEvent:
        for existing in self._events:
            if existing.idempotency_key == event.key:
                return existing
        stored = AutomationEvent(
            id=next(self._ids),
            trigger=event.trigger,
            kind=event.kind,
            model=event.model,
            reason=redact_value(event.reason),
            details=redact_value(dict(event.details)),
            parent_id=parent_id,
            idempotency_key=event.key,
            at=event.at,
            actor=actor.name,
        )
        self._events.append(stored)
        new.append({"id": stored.id, "kind": stored.kind, "key": stored.idempotency_key})
        return stored

    def _audit(self, actor: Actor, action: str, target: str, **details: Any) -> None:
        self.audit.append((actor.name, action, target, details))
