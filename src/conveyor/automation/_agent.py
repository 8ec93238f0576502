"""The agent: evaluates triggers and carries retraining jobs through to deployment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.automation._errors import AutomationError, LeaseLostError
from conveyor.automation._hooks import crash_point
from conveyor.automation._jobs import Job, Trainer
from conveyor.automation._lease import Lease, LeaseInfo
from conveyor.automation._records import (
    AutomationEvent,
    TriggerState,
    list_events,
    list_states,
    record_once,
)
from conveyor.automation._sources import (
    Deployer,
    LogNotifier,
    Notifier,
    ReportSource,
    controller_deployer,
    monitoring_reports,
    report_facts,
)
from conveyor.automation._triggers import (
    Condition,
    Observations,
    check_triggers,
    evaluate,
    initial_cursor,
)
from conveyor.ci import run_ci
from conveyor.errors import DatasetNotFoundError
from conveyor.store import TriggerStateRow, WriteTx

if TYPE_CHECKING:
    from conveyor.config import TriggerConfig
    from conveyor.workspace import Workspace

T = TypeVar("T")


@dataclass(frozen=True)
class AgentTick:
    """What one :meth:`Agent.run_once` did.

    Attributes:
        acted: Whether this agent held the lease and evaluated anything.
        holder: The lease holder seen (this agent when ``acted``).
        fired: Trigger names that fired.
        outcomes: Outcome events of the jobs finished, oldest first.
        skipped: Trigger name -> why a holding condition did not fire (cooldown, busy).
    """

    acted: bool
    holder: str | None
    fired: tuple[str, ...] = ()
    outcomes: tuple[AutomationEvent, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view: the decision of each job in ``outcomes[].result``.

        Example:
            >>> AgentTick(acted=False, holder="host:1:ab").to_dict()["holder"]
            'host:1:ab'
        """
        return {
            "acted": self.acted,
            "holder": self.holder,
            "fired": list(self.fired),
            "outcomes": [
                {**event.to_dict(), "result": event.details.get("result")}
                for event in self.outcomes
            ],
            "skipped": dict(self.skipped),
        }


@dataclass(frozen=True)
class AgentStatus:
    """The lease, every trigger's state and the newest events."""

    lease: LeaseInfo | None
    triggers: tuple[TriggerState, ...]
    events: tuple[AutomationEvent, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "lease": None if self.lease is None else self.lease.to_dict(),
            "triggers": [state.to_dict() for state in self.triggers],
            "events": [event.to_dict() for event in self.events],
        }


class Agent:
    """Evaluates ``triggers:`` and retrains, gates and deploys when one fires.

    Only the holder of the store's lease acts; every step is recorded with an idempotency
    key derived from the firing, so several agents, or one killed and restarted, do each
    job once. Not thread safe: run one ``run_once`` at a time per instance.

    Args:
        ws: The project workspace (its ``triggers:`` configuration is used).
        deployer: ``deployer(ref, env) -> Deployment``; default ``conveyor.deploy``'s
            ``Controller(ws).deploy`` (the environment's configured strategy).
        trainer: ``trainer(ws, report_dir=...) -> CIResult``; default :func:`run_ci`.
        reports: ``reports(ws, env)`` -> latest monitoring report; default
            ``conveyor.monitoring.latest_report``.
        notifier: Receives ``agent.retrain_failed``; default: the configured webhooks,
            else the log.
        clock: Seconds since the epoch.
        progress: Called with one line per step as it starts or ends (trigger fired,
            retraining, registered, gates, deploying, outcome); default: nothing.
        lease_ttl_s: How long the lease outlives a silent agent.
        holder: This agent's id (default ``host:pid:random``).
        lease_name: Agents sharing a lease name exclude each other.

    Example:
        >>> agent = Agent(ws)  # doctest: +SKIP
        >>> agent.run_once().fired
        ('nightly',)
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        deployer: Deployer | None = None,
        trainer: Trainer | None = None,
        reports: ReportSource | None = None,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.time,
        progress: Callable[[str], None] | None = None,
        lease_ttl_s: float = 60.0,
        holder: str | None = None,
        lease_name: str = "agent",
    ) -> None:
        self.ws = ws
        self.triggers: tuple[TriggerConfig, ...] = tuple(ws.settings.config.triggers)
        check_triggers(self.triggers)
        self._deployer = deployer
        self.trainer: Trainer = trainer or partial(run_ci, integration=True)
        self.reports: ReportSource = reports or monitoring_reports
        self.notifier: Notifier = notifier or _default_notifier(ws)
        self.clock = clock
        self.progress: Callable[[str], None] = progress or _quiet
        self.lease = Lease(
            ws.store, actor=ws.actor, name=lease_name, holder=holder, ttl_s=lease_ttl_s, clock=clock
        )

    @property
    def deployer(self) -> Deployer:
        """The deployer, built on first use (the controller loads only when needed)."""
        if self._deployer is None:
            self._deployer = controller_deployer(self.ws)
        return self._deployer

    def now(self) -> datetime:
        """The agent clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def trigger(self, name: str) -> TriggerConfig:
        """The configured trigger ``name``.

        Raises:
            AutomationError: No such trigger (it was removed from conveyor.yaml).
        """
        for trigger in self.triggers:
            if trigger.name == name:
                return trigger
        raise AutomationError(
            f"Trigger {name!r} has an unfinished job but is no longer in triggers:.",
            hint="Put the trigger back in conveyor.yaml to let the agent finish its job.",
            trigger=name,
        )

    def write(self, action: str, target: str, fn: Callable[[WriteTx], T]) -> T:
        """Run ``fn`` in one audited write transaction as the workspace actor."""
        with self.ws.store.write(self.ws.actor, action, target) as tx:
            return fn(tx)

    def run_once(self) -> AgentTick:
        """Take or renew the lease; finish unfinished jobs; evaluate triggers once.

        Returns:
            What happened; ``acted`` is ``False`` when another agent holds the lease.
        """
        if not self.lease.acquire():
            info = self.lease.current()
            return AgentTick(acted=False, holder=None if info is None else info.holder)
        fired: list[str] = []
        outcomes: list[AutomationEvent] = []
        skipped: dict[str, str] = {}
        try:
            with self.lease.keeper():
                for state in self._states().values():
                    if state.running and state.current_event_id is not None:
                        outcomes.append(Job(self, state).carry_on())
                busy = {event.model for event in outcomes}
                for trigger in self.triggers:
                    condition = self._condition(trigger)
                    if condition is None:
                        continue
                    why = self._blocked(trigger, busy)
                    if why is not None:
                        skipped[trigger.name] = why
                        continue
                    state = self._fire(trigger, condition)
                    self.progress(f"trigger {trigger.name} fired: {condition.reason}")
                    fired.append(trigger.name)
                    busy.add(trigger.model)
                    crash_point("fired")
                    outcomes.append(Job(self, state).carry_on())
        except LeaseLostError:
            info = self.lease.current()
            return AgentTick(
                acted=False,
                holder=None if info is None else info.holder,
                fired=tuple(fired),
                outcomes=tuple(outcomes),
                skipped=skipped,
            )
        return AgentTick(
            acted=True,
            holder=self.lease.holder,
            fired=tuple(fired),
            outcomes=tuple(outcomes),
            skipped=skipped,
        )

    def run_forever(self, *, interval_s: float = 30.0, stop: threading.Event) -> None:
        """Call :meth:`run_once` every ``interval_s`` until ``stop`` is set; then let go."""
        try:
            while not stop.is_set():
                self.run_once()
                stop.wait(interval_s)
        finally:
            self.lease.release()

    def status(self, *, limit: int = 20) -> AgentStatus:
        """The lease, every trigger's state and the newest ``limit`` events."""
        with self.ws.store.read() as session:
            states = tuple(list_states(session))
            events = tuple(list_events(session, limit=limit))
        return AgentStatus(lease=self.lease.current(), triggers=states, events=events)

    # -- evaluation -----------------------------------------------------------------

    def _states(self) -> dict[str, TriggerState]:
        with self.ws.store.read() as session:
            return {state.trigger: state for state in list_states(session)}

    def _observe(self, trigger: TriggerConfig) -> Observations:
        now = self.now()
        if trigger.kind == "new_data":
            try:
                version = self.ws.datasets.get(f"{trigger.dataset}@latest")
            except DatasetNotFoundError:
                return Observations(now=now)
            return Observations(
                now=now, dataset_version=version.version, dataset_created_at=version.created_at
            )
        if trigger.kind in ("drift", "performance"):
            return Observations(now=now, report=report_facts(self.reports(self.ws, trigger.env)))
        return Observations(now=now)

    def _condition(self, trigger: TriggerConfig) -> Condition | None:
        seen = self._observe(trigger)
        state = self._states().get(trigger.name)
        if state is None:
            state = self._arm(trigger, seen)
        condition = evaluate(trigger, seen, armed_at=state.armed_at, cursor=state.cursor)
        retrained = self._last_retrained(trigger.model)
        if condition is not None and retrained is not None and condition.observed_at < retrained:
            # That evidence predates the model's last retraining, which already answered it.
            return None
        return condition

    def _last_retrained(self, model: str) -> datetime | None:
        fired = [s.last_fired_at for s in self._states().values() if s.model == model]
        return max((at for at in fired if at is not None), default=None)

    def _blocked(self, trigger: TriggerConfig, busy: set[str]) -> str | None:
        now = self.now()
        states = self._states()
        state = states[trigger.name]
        if trigger.model in busy or any(
            s.running for s in states.values() if s.model == trigger.model
        ):
            return f"a retraining of {trigger.model!r} is already running or just ran"
        if state.cooldown_until is not None and now < state.cooldown_until:
            return f"cooling down until {state.cooldown_until.isoformat()}"
        return None

    def _arm(self, trigger: TriggerConfig, seen: Observations) -> TriggerState:
        def body(tx: WriteTx) -> TriggerState:
            row = tx.session.get(TriggerStateRow, trigger.name)
            if row is None:
                row = TriggerStateRow(
                    trigger=trigger.name,
                    model=trigger.model,
                    armed_at=seen.now,
                    running=False,
                    cursor=initial_cursor(trigger, seen),
                    attempts=0,
                )
                tx.session.add(row)
                tx.session.flush()
            tx.details.update({"kind": trigger.kind, "model": trigger.model})
            return TriggerState.from_row(row)

        return self.write("agent.arm", f"trigger:{trigger.name}", body)

    def _fire(self, trigger: TriggerConfig, condition: Condition) -> TriggerState:
        def body(tx: WriteTx) -> TriggerState:
            self.lease.fence(tx)
            now = self.now()
            event = record_once(
                tx,
                key=f"{trigger.name}/{condition.key}",
                trigger=trigger.name,
                kind="trigger",
                model=trigger.model,
                reason=condition.reason,
                details={
                    "kind": trigger.kind,
                    "env": trigger.env,
                    "condition": condition.key,
                    **condition.details,
                },
                parent_id=None,
                at=now,
            )
            row = tx.session.get(TriggerStateRow, trigger.name)
            assert row is not None
            row.last_fired_at = now
            row.cooldown_until = now + timedelta(seconds=trigger.cooldown_s)
            row.running = True
            row.current_event_id = event.id
            row.cursor = condition.cursor
            row.attempt = None
            row.attempts = 0
            tx.details.update({"reason": condition.reason, "event": event.id})
            return TriggerState.from_row(row)

        return self.write("agent.trigger", f"trigger:{trigger.name}", body)

    def events(
        self, *, limit: int | None = None, model: str | None = None
    ) -> list[AutomationEvent]:
        """Recorded automation events, oldest first (``limit``: the newest ones)."""
        with self.ws.store.read() as session:
            return list_events(session, limit=limit, model=model)


def _default_notifier(ws: Workspace) -> Notifier:
    """The workspace's webhooks (built from the full settings) when any, else the log."""
    if ws.settings.config.webhooks.endpoints:
        return ws.notifier()
    return LogNotifier()


def _quiet(line: str) -> None:
    """The default progress sink: says nothing."""
