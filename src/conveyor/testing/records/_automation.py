"""The contract of :class:`~conveyor.automation.BaseAutomationRecords`, as a test suite.

Subclass :class:`AutomationRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.automation import (
    AutomationError,
    BaseAutomationRecords,
    LeaseClaim,
    LeaseLostError,
    NewEvent,
)
from conveyor.core import Actor
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
TTL = timedelta(seconds=60)


def claim(holder: str = "agent-a", *, at: datetime = T0, name: str = "agent") -> LeaseClaim:
    """``holder``'s claim on lease ``name``, checked at ``at``."""
    return LeaseClaim(name=name, holder=holder, now=lambda: at)


def new_event(key: str, kind: str = "run", **fields: Any) -> NewEvent:
    """An event of trigger ``nightly`` for model ``churn`` with key ``key``."""
    values: dict[str, Any] = {
        "trigger": "nightly",
        "model": "churn",
        "reason": f"{kind} step",
        "at": T0,
        "details": {"step": kind, "share": 0.1 / 3},
    }
    values.update(fields)
    return NewEvent(key=key, kind=kind, **values)


class AutomationRecordsContract:
    """Every behaviour :class:`BaseAutomationRecords` documents, one test each."""

    @pytest.fixture
    def holding(self, records: BaseAutomationRecords, actor: Actor) -> LeaseClaim:
        """``agent-a`` holds lease ``agent`` from T0 for a minute; its claim at T0."""
        assert records.take_lease(
            actor, name="agent", holder="agent-a", now=T0, expires_at=T0 + TTL
        )
        return claim()

    @pytest.fixture
    def armed(self, records: BaseAutomationRecords, actor: Actor) -> str:
        """Trigger ``nightly`` of model ``churn``, armed at T0."""
        records.arm_trigger(
            actor, trigger="nightly", model="churn", kind="schedule", armed_at=T0, cursor={}
        )
        return "nightly"

    def _fire(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim, key: str
    ) -> int:
        state = records.fire_trigger(
            actor,
            holding,
            new_event(key, "trigger"),
            cooldown_until=T0 + timedelta(hours=1),
            cursor={"slot": key},
        )
        assert state.current_event_id is not None
        return state.current_event_id

    # -- the lease --------------------------------------------------------------------

    def test_a_free_lease_is_taken_and_audited(
        self, records: BaseAutomationRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        assert records.lease("agent") is None
        assert records.take_lease(
            actor, name="agent", holder="agent-a", now=T0, expires_at=T0 + TTL
        )
        info = records.lease("agent")
        assert info is not None
        assert (info.name, info.holder, info.acquired_at, info.expires_at) == (
            "agent",
            "agent-a",
            T0,
            T0 + TTL,
        )
        event = audit_log()[-1]
        assert (event.action, event.target, event.actor) == (
            "agent.lease",
            "lease:agent",
            actor.name,
        )
        assert event.details == {"holder": "agent-a", "previous": None}

    def test_an_unexpired_lease_of_another_holder_is_not_taken(
        self, records: BaseAutomationRecords, actor: Actor, audit_log: AuditLog, holding: LeaseClaim
    ) -> None:
        before = len(audit_log())
        taken = records.take_lease(
            actor, name="agent", holder="agent-b", now=T0 + TTL / 2, expires_at=T0 + 2 * TTL
        )
        assert not taken
        info = records.lease("agent")
        assert info is not None
        assert (info.holder, info.expires_at) == ("agent-a", T0 + TTL)
        assert len(audit_log()) == before

    def test_an_expired_lease_is_taken_over(
        self, records: BaseAutomationRecords, actor: Actor, audit_log: AuditLog, holding: LeaseClaim
    ) -> None:
        later = T0 + TTL
        assert records.take_lease(
            actor, name="agent", holder="agent-b", now=later, expires_at=later + TTL
        )
        info = records.lease("agent")
        assert info is not None
        assert (info.holder, info.acquired_at, info.expires_at) == ("agent-b", later, later + TTL)
        assert audit_log()[-1].details == {"holder": "agent-b", "previous": "agent-a"}

    def test_leases_of_other_names_are_independent(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim
    ) -> None:
        assert records.take_lease(
            actor, name="other", holder="agent-b", now=T0, expires_at=T0 + TTL
        )
        assert records.lease("agent").holder == "agent-a"  # type: ignore[union-attr]
        assert records.lease("other").holder == "agent-b"  # type: ignore[union-attr]

    def test_renewing_extends_the_holders_lease_without_an_audit_event(
        self, records: BaseAutomationRecords, audit_log: AuditLog, holding: LeaseClaim
    ) -> None:
        before = len(audit_log())
        assert records.renew_lease("agent", holder="agent-a", expires_at=T0 + 5 * TTL)
        info = records.lease("agent")
        assert info is not None
        assert (info.expires_at, info.acquired_at) == (T0 + 5 * TTL, T0)
        assert len(audit_log()) == before

    def test_only_the_holder_renews(
        self, records: BaseAutomationRecords, holding: LeaseClaim
    ) -> None:
        assert not records.renew_lease("agent", holder="agent-b", expires_at=T0 + 5 * TTL)
        assert not records.renew_lease("missing", holder="agent-a", expires_at=T0 + 5 * TTL)
        info = records.lease("agent")
        assert info is not None
        assert info.expires_at == T0 + TTL
        assert records.lease("missing") is None

    def test_an_expiry_in_the_past_releases_the_lease(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim
    ) -> None:
        assert records.renew_lease("agent", holder="agent-a", expires_at=T0)
        assert records.take_lease(
            actor, name="agent", holder="agent-b", now=T0, expires_at=T0 + TTL
        )

    # -- trigger state ----------------------------------------------------------------

    def test_arming_starts_a_state_once_and_is_audited(
        self, records: BaseAutomationRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        state = records.arm_trigger(
            actor,
            trigger="fresh",
            model="churn",
            kind="new_data",
            armed_at=T0,
            cursor={"version": 3},
        )
        assert (state.trigger, state.model, state.armed_at, state.cursor) == (
            "fresh",
            "churn",
            T0,
            {"version": 3},
        )
        assert (state.running, state.current_event_id, state.attempt, state.attempts) == (
            False,
            None,
            None,
            0,
        )
        assert (state.last_fired_at, state.cooldown_until) == (None, None)
        event = audit_log()[-1]
        assert (event.action, event.target) == ("agent.arm", "trigger:fresh")
        assert event.details == {"kind": "new_data", "model": "churn"}
        again = records.arm_trigger(
            actor,
            trigger="fresh",
            model="churn",
            kind="new_data",
            armed_at=T0 + TTL,
            cursor={"version": 9},
        )
        assert again == state
        assert records.trigger_states() == [state]

    def test_trigger_states_are_ordered_by_name(
        self, records: BaseAutomationRecords, actor: Actor
    ) -> None:
        for name in ["weekly", "drifting", "nightly"]:
            records.arm_trigger(
                actor, trigger=name, model="churn", kind="schedule", armed_at=T0, cursor={}
            )
        assert [s.trigger for s in records.trigger_states()] == ["drifting", "nightly", "weekly"]

    def test_firing_records_the_trigger_event_and_marks_the_job_running(
        self,
        records: BaseAutomationRecords,
        actor: Actor,
        audit_log: AuditLog,
        holding: LeaseClaim,
        armed: str,
    ) -> None:
        event = new_event("nightly/slot:1", "trigger", at=T0 + timedelta(seconds=1))
        state = records.fire_trigger(
            actor,
            holding,
            event,
            cooldown_until=T0 + timedelta(hours=1),
            cursor={"slot": "1"},
        )
        (recorded,) = records.events()
        assert (recorded.kind, recorded.parent_id, recorded.idempotency_key) == (
            "trigger",
            None,
            "nightly/slot:1",
        )
        assert (recorded.at, recorded.actor, recorded.details) == (
            event.at,
            actor.name,
            event.details,
        )
        assert state.running
        assert state.current_event_id == recorded.id
        assert (state.last_fired_at, state.cooldown_until, state.cursor) == (
            event.at,
            T0 + timedelta(hours=1),
            {"slot": "1"},
        )
        assert (state.attempt, state.attempts) == (None, 0)
        assert records.trigger_states() == [state]
        audit = audit_log()[-1]
        assert (audit.action, audit.target) == ("agent.trigger", "trigger:nightly")
        assert audit.details == {
            "reason": event.reason,
            "event": recorded.id,
            "events": [{"id": recorded.id, "kind": "trigger", "key": "nightly/slot:1"}],
        }

    def test_firing_again_for_the_same_key_records_no_second_event(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim, armed: str
    ) -> None:
        first = self._fire(records, actor, holding, "nightly/slot:1")
        second = self._fire(records, actor, holding, "nightly/slot:1")
        assert first == second
        assert len(records.events()) == 1

    def test_firing_an_unarmed_trigger_fails_and_records_nothing(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim
    ) -> None:
        with pytest.raises(AutomationError, match="nightly"):
            self._fire(records, actor, holding, "nightly/slot:1")
        assert records.events() == []

    def test_an_attempt_is_remembered_and_counted(
        self,
        records: BaseAutomationRecords,
        actor: Actor,
        audit_log: AuditLog,
        holding: LeaseClaim,
        armed: str,
    ) -> None:
        self._fire(records, actor, holding, "nightly/slot:1")
        attempt = {"host": "box", "pid": 42, "at": "2026-03-01T12:00:00+00:00"}
        state = records.start_attempt(actor, holding, trigger="nightly", attempt=attempt)
        assert (state.attempt, state.attempts) == (attempt, 1)
        state = records.start_attempt(actor, holding, trigger="nightly", attempt=attempt)
        assert state.attempts == 2
        assert records.trigger_states() == [state]
        audit = audit_log()[-1]
        assert (audit.action, audit.target) == ("agent.attempt", "trigger:nightly")
        assert audit.details == {"attempt": attempt, "attempts": 2}

    def test_finishing_a_job_clears_running_and_the_attempt(
        self,
        records: BaseAutomationRecords,
        actor: Actor,
        audit_log: AuditLog,
        holding: LeaseClaim,
        armed: str,
    ) -> None:
        root = self._fire(records, actor, holding, "nightly/slot:1")
        records.start_attempt(actor, holding, trigger="nightly", attempt={"pid": 1})
        state = records.finish_job(actor, holding, trigger="nightly", outcome="deployed")
        assert (state.running, state.attempt, state.current_event_id) == (False, None, root)
        audit = audit_log()[-1]
        assert (audit.action, audit.target) == ("agent.finish", "trigger:nightly")
        assert audit.details == {"outcome": "deployed"}
        again = records.finish_job(actor, holding, trigger="nightly", outcome="deployed")
        assert again == state

    def test_an_attempt_of_an_unarmed_trigger_fails(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim
    ) -> None:
        with pytest.raises(AutomationError, match="nightly"):
            records.start_attempt(actor, holding, trigger="nightly", attempt={})

    def test_finishing_a_job_of_an_unarmed_trigger_fails(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim
    ) -> None:
        with pytest.raises(AutomationError, match="nightly"):
            records.finish_job(actor, holding, trigger="nightly", outcome=None)

    # -- events -----------------------------------------------------------------------

    def test_events_are_chained_to_their_parent_and_audited(
        self,
        records: BaseAutomationRecords,
        actor: Actor,
        audit_log: AuditLog,
        holding: LeaseClaim,
    ) -> None:
        chain = [new_event(f"k/{kind}", kind) for kind in ("run", "register", "gate")]
        recorded = records.record_events(
            actor, holding, chain, action="agent.register", target="model:churn@2", parent_id=7
        )
        assert [e.kind for e in recorded] == ["run", "register", "gate"]
        assert [e.parent_id for e in recorded] == [7, recorded[0].id, recorded[1].id]
        assert [e.idempotency_key for e in recorded] == ["k/run", "k/register", "k/gate"]
        assert all(e.actor == actor.name for e in recorded)
        assert recorded[0].id < recorded[1].id < recorded[2].id
        assert records.events() == recorded
        audit = audit_log()[-1]
        assert (audit.action, audit.target) == ("agent.register", "model:churn@2")
        assert audit.details == {
            "events": [{"id": e.id, "kind": e.kind, "key": e.idempotency_key} for e in recorded]
        }

    def test_an_event_is_recorded_once_per_key(
        self,
        records: BaseAutomationRecords,
        actor: Actor,
        audit_log: AuditLog,
        holding: LeaseClaim,
    ) -> None:
        (run,) = records.record_events(
            actor, holding, [new_event("k/run")], action="agent.run", target="t", parent_id=1
        )
        again = records.record_events(
            actor,
            holding,
            [new_event("k/run", reason="other words"), new_event("k/register", "register")],
            action="agent.register",
            target="t",
            parent_id=99,
        )
        assert again[0] == run
        assert again[1].parent_id == run.id
        assert audit_log()[-1].details == {
            "events": [{"id": again[1].id, "kind": "register", "key": "k/register"}]
        }
        same = records.record_events(
            actor, holding, [new_event("k/run")], action="agent.run", target="t", parent_id=1
        )
        assert same == [run]
        assert "events" not in audit_log()[-1].details
        assert len(records.events()) == 2

    def test_secrets_in_reasons_and_details_are_redacted(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim
    ) -> None:
        event = new_event(
            "k/error",
            "error",
            reason="posting to https://bot:hunter2@hooks.example.com/x failed",
            details={"password": "hunter2", "url": "postgresql://u:hunter2@db/x", "n": 3},
        )
        records.record_events(
            actor, holding, [event], action="agent.error", target="t", parent_id=1
        )
        (stored,) = records.events()
        assert "hunter2" not in stored.reason
        assert "hunter2" not in repr(stored.details)
        assert stored.details["n"] == 3

    @pytest.mark.parametrize(
        "lost",
        [
            pytest.param(claim("agent-b"), id="another-holder"),
            pytest.param(claim(at=T0 + TTL), id="expired"),
            pytest.param(claim(name="absent"), id="no-such-lease"),
        ],
    )
    @pytest.mark.usefixtures("armed")
    def test_a_write_fenced_by_a_claim_that_does_not_hold_records_nothing(
        self,
        records: BaseAutomationRecords,
        actor: Actor,
        audit_log: AuditLog,
        holding: LeaseClaim,
        lost: LeaseClaim,
    ) -> None:
        self._fire(records, actor, holding, "nightly/slot:1")
        states, events, before = records.trigger_states(), records.events(), len(audit_log())
        writes: list[Callable[[], object]] = [
            lambda: self._fire(records, actor, lost, "nightly/slot:2"),
            lambda: records.start_attempt(actor, lost, trigger="nightly", attempt={"pid": 1}),
            lambda: records.finish_job(actor, lost, trigger="nightly", outcome="deployed"),
            lambda: records.record_events(
                actor, lost, [new_event("k/run")], action="agent.run", target="t", parent_id=1
            ),
        ]
        for write in writes:
            with pytest.raises(LeaseLostError, match=lost.name) as raised:
                write()
            assert raised.value.fields["lease"] == lost.name
        assert records.trigger_states() == states
        assert records.events() == events
        assert len(audit_log()) == before

    def test_events_are_listed_oldest_first_newest_kept_by_limit(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim
    ) -> None:
        drafts = [
            new_event("a/run", model="churn"),
            new_event("b/run", model="fraud"),
            new_event("c/run", model="churn"),
        ]
        recorded = [
            records.record_events(
                actor, holding, [d], action="agent.run", target="t", parent_id=None
            )[0]
            for d in drafts
        ]
        assert records.events() == recorded
        assert records.events(limit=2) == recorded[1:]
        assert records.events(limit=0) == []
        assert records.events(model="churn") == [recorded[0], recorded[2]]
        assert records.events(model="churn", limit=1) == [recorded[2]]
        assert recorded[0].at.tzinfo is not None

    def test_a_firings_events_are_its_root_and_those_keyed_under_it(
        self, records: BaseAutomationRecords, actor: Actor, holding: LeaseClaim, armed: str
    ) -> None:
        root_id = self._fire(records, actor, holding, "nightly/slot_%:1")
        records.record_events(
            actor,
            holding,
            [new_event("nightly/slot_%:1/run"), new_event("nightly/slot_%:1/register", "register")],
            action="agent.register",
            target="t",
            parent_id=root_id,
        )
        # Keys that only look alike (a longer key, LIKE wildcards) are another firing's.
        others = ["nightly/slot_%:10/gate", "nightly/slotX%:1/gate", "nightly/slot_a:1/gate"]
        records.record_events(
            actor,
            holding,
            [new_event(key, "gate") for key in others],
            action="agent.gate",
            target="t",
            parent_id=None,
        )
        found = records.firing_events(root_id)
        assert sorted(found) == ["register", "run", "trigger"]
        assert found["trigger"].id == root_id
        assert found["run"].idempotency_key == "nightly/slot_%:1/run"
        assert records.firing_events(root_id + 1000) == {}
