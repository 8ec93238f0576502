"""The interface of the automation records: the agent lease, its events, trigger state.

The :class:`~conveyor.automation.Agent` holds the rules (when a trigger fires, which step
comes next, what a restarted agent adopts); a backend keeps what it is given, and gives
the guarantees crash safety rests on: an event is recorded at most once per idempotency
key, every write of a step is fenced by the lease in the same atomic step, and a step
that records several events records all or none of them.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from conveyor.automation._records import (
    AutomationEvent,
    LeaseClaim,
    LeaseInfo,
    NewEvent,
    TriggerState,
)
from conveyor.core import Actor


class BaseAutomationRecords(abc.ABC):
    """Where the agent keeps its leases, its events and what it remembers of each trigger.

    Event ids grow in the order events are recorded. An event's ``reason`` and
    ``details`` are stored with secrets redacted (:func:`conveyor.core.redact_value`),
    since events are shown by ``conveyor events`` and kept forever. Times come back
    timezone-aware, in UTC; JSON parts (details, cursors, attempts) compare equal to what
    was written.

    Fencing: a method taking a :class:`LeaseClaim` checks, in the same atomic step as its
    change and after any other writer's change is complete, that the claim holds (the
    lease's holder is ``claim.holder`` and it expires after ``claim.now()``); if not, it
    raises :meth:`LeaseClaim.lost` and changes nothing.

    Thread safety: an implementation may be shared by threads and processes; writers are
    serialised, so a lease is taken by one agent at a time.
    """

    # -- the lease --------------------------------------------------------------------

    @abc.abstractmethod
    def lease(self, name: str) -> LeaseInfo | None:
        """Return lease ``name`` as stored (possibly expired), or ``None`` if never taken."""

    @abc.abstractmethod
    def take_lease(
        self, actor: Actor, *, name: str, holder: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Make ``holder`` the holder of lease ``name`` until ``expires_at``.

        Atomic: the lease is taken only if, at that moment, nobody holds it, ``holder``
        holds it, or the holder's lease expired at or before ``now``. Taking it sets
        ``acquired_at`` to ``now`` and writes one audit event ``agent.lease`` on target
        ``lease:<name>`` (signed by ``actor``, details ``holder`` and ``previous``, the
        holder before, ``None`` for a new lease) in the same transaction.

        Returns:
            Whether ``holder`` took it; ``False`` (nothing written, no audit event) when
            another holder's lease is still unexpired.
        """

    @abc.abstractmethod
    def renew_lease(self, name: str, *, holder: str, expires_at: datetime) -> bool:
        """Set the expiry of lease ``name`` to ``expires_at`` if ``holder`` holds it.

        A heartbeat: not audited. It applies whether or not the lease has expired, as
        long as nobody took it over; an expiry in the past releases the lease.

        Returns:
            Whether ``holder`` holds the lease (and its expiry was set).
        """

    # -- trigger state ----------------------------------------------------------------

    @abc.abstractmethod
    def trigger_states(self) -> list[TriggerState]:
        """Return every trigger's state, ordered by trigger name."""

    @abc.abstractmethod
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
        """Start remembering ``trigger``, unless its state exists already.

        A new state is armed at ``armed_at`` with ``cursor``, not running, with no firing
        and no attempts. Writes one audit event ``agent.arm`` on target
        ``trigger:<trigger>`` (details ``kind`` and ``model``) in the same transaction.

        Returns:
            The trigger's state: the new one, or the existing one unchanged.
        """

    @abc.abstractmethod
    def fire_trigger(
        self,
        actor: Actor,
        claim: LeaseClaim,
        event: NewEvent,
        *,
        cooldown_until: datetime,
        cursor: dict[str, Any],
    ) -> TriggerState:
        """Record a firing of ``event.trigger`` and mark its job as running.

        One fenced, atomic step: ``event`` (a ``trigger`` event without parent) is
        recorded as :meth:`record_events` would (idempotent by its key), and the
        trigger's state gets ``last_fired_at = event.at``, ``cooldown_until``,
        ``running``, ``current_event_id`` = the event's id, ``cursor``, no attempt and
        ``attempts = 0``. One audit event ``agent.trigger`` on target
        ``trigger:<trigger>`` (details ``reason``, ``event`` id, and ``events`` when the
        event is new) is written with it.

        Returns:
            The trigger's new state.

        Raises:
            LeaseLostError: The claim does not hold; nothing is recorded.
            AutomationError: The trigger has no state (:meth:`arm_trigger` first).
        """

    @abc.abstractmethod
    def start_attempt(
        self, actor: Actor, claim: LeaseClaim, *, trigger: str, attempt: dict[str, Any]
    ) -> TriggerState:
        """Record that the job of ``trigger`` starts training in the process ``attempt``.

        One fenced, atomic step: the state's ``attempt`` becomes ``attempt`` and
        ``attempts`` grows by one, with one audit event ``agent.attempt`` on target
        ``trigger:<trigger>`` (details ``attempt`` and ``attempts``).

        Returns:
            The trigger's new state.

        Raises:
            LeaseLostError: The claim does not hold; nothing is recorded.
            AutomationError: The trigger has no state.
        """

    @abc.abstractmethod
    def finish_job(
        self, actor: Actor, claim: LeaseClaim, *, trigger: str, outcome: str | None
    ) -> TriggerState:
        """Mark the job of ``trigger`` as finished (not running, no attempt).

        One fenced, atomic step with one audit event ``agent.finish`` on target
        ``trigger:<trigger>`` (details ``outcome``, the job's result). Idempotent: finishing
        a finished job changes nothing but writes the audit event again.

        Returns:
            The trigger's new state.

        Raises:
            LeaseLostError: The claim does not hold; nothing is recorded.
            AutomationError: The trigger has no state.
        """

    # -- events -----------------------------------------------------------------------

    @abc.abstractmethod
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
        """Record a chain of events, each at most once: the idempotency primitive.

        The first event follows ``parent_id``; each next one follows the one before it.
        An event whose key is recorded already is not written again: the stored one is
        returned as it is (and the next event follows it). New events are recorded with
        ``actor.name`` as their actor.

        One fenced, atomic step: every new event, and one audit event ``action`` on
        ``target`` (signed by ``actor``; its details list the new events as ``events``:
        ``{"id", "kind", "key"}`` each, absent when none is new), or nothing.

        Returns:
            The recorded events, in the order given.

        Raises:
            LeaseLostError: The claim does not hold; nothing is recorded.
        """

    @abc.abstractmethod
    def events(
        self, *, limit: int | None = None, model: str | None = None
    ) -> list[AutomationEvent]:
        """Return recorded events, oldest first.

        Args:
            limit: Keep only the newest ``limit`` events (0 or less: none).
            model: Only events of this model.
        """

    @abc.abstractmethod
    def firing_events(self, root_id: int) -> dict[str, AutomationEvent]:
        """Return the events of the firing whose trigger event is ``root_id``, by kind.

        The firing's events are its trigger event (under ``"trigger"``) and every event
        whose key starts with the trigger event's key followed by ``/``.

        Returns:
            Kind -> event; empty when no event ``root_id`` exists.
        """
