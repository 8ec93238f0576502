"""The agent: evaluates triggers and carries retraining jobs through to deployment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from conveyor.automation._base import BaseAutomationRecords
from conveyor.automation._errors import AutomationError, LeaseLostError
from conveyor.automation._jobs import Job, Trainer
from conveyor.automation._lease import Lease
from conveyor.automation._records import AutomationEvent, LeaseInfo, NewEvent, TriggerState
from conveyor.automation._sources import (
    Deployer,
    ReportSource,
    controller_deployer,
    monitoring_reports,
    report_facts,
)
from conveyor.automation._sql import SqlAutomationRecords
from conveyor.automation._triggers import (
    Condition,
    Observations,
    check_triggers,
    evaluate,
    initial_cursor,
)
from conveyor.ci import run_ci
from conveyor.errors import DatasetNotFoundError

if TYPE_CHECKING:
    from conveyor.config import TriggerConfig
    from conveyor.notify import BaseNotifier
    from conveyor.workspace import Workspace

#: The named steps of a retraining job, in order, at which an agent calls ``on_step``.
AGENT_STEPS = ("fired", "run_started", "trained", "registered", "deployed")


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
        deployer: ``deployer(ref, env) -> Deployment``; default ``conveyor.rollout``'s
            ``Controller(ws).deploy`` (the environment's configured strategy).
        trainer: ``trainer(ws, report_dir=...) -> CIResult``; default :func:`run_ci`.
        reports: ``reports(ws, env)`` -> latest monitoring report; default
            ``conveyor.monitoring.latest_report``.
        notifier: Receives ``agent.retrain_failed``; default: the workspace's notifier
            (``ws.notifier()``, built from the configuration on first use).
        clock: Seconds since the epoch.
        progress: Called with one line per step as it starts or ends (trigger fired,
            retraining, registered, gates, deploying, outcome); default: nothing.
        lease_ttl_s: How long the lease outlives a silent agent.
        holder: This agent's id (default ``host:pid:random``).
        lease_name: Agents sharing a lease name exclude each other.
        records: Where the lease, the events and the trigger state are kept (default:
            the workspace's, ``ws.records(BaseAutomationRecords, SqlAutomationRecords)``).
        on_step: Called with the name of each step of a job as the agent reaches it, in
            the order of :data:`AGENT_STEPS` (a hook for observing the agent, and for
            fault injection: the crash-safety tests stop the process hard at a step):

            - ``fired``: the trigger firing is recorded, nothing else;
            - ``run_started``: the training attempt is recorded, the trainer is about
              to run;
            - ``trained``: the trainer returned (candidate registered and gated),
              nothing recorded;
            - ``registered``: run, model version and gate decision are recorded;
            - ``deployed``: the deployer returned, the deployment is not recorded yet.

            Default: nothing.

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
        notifier: BaseNotifier | None = None,
        clock: Callable[[], float] = time.time,
        progress: Callable[[str], None] | None = None,
        lease_ttl_s: float = 60.0,
        holder: str | None = None,
        lease_name: str = "agent",
        records: BaseAutomationRecords | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        self.ws = ws
        self.triggers: tuple[TriggerConfig, ...] = tuple(ws.settings.config.triggers)
        check_triggers(self.triggers)
        self._deployer = deployer
        self.trainer: Trainer = trainer or partial(run_ci, integration=True)
        self.reports: ReportSource = reports or monitoring_reports
        self._notifier = notifier
        self.clock = clock
        self.progress: Callable[[str], None] = progress or _quiet
        self.on_step: Callable[[str], None] = on_step or _quiet
        self.records: BaseAutomationRecords = records or ws.records(
            BaseAutomationRecords, SqlAutomationRecords
        )
        self.lease = Lease(
            actor=ws.actor,
            name=lease_name,
            holder=holder,
            ttl_s=lease_ttl_s,
            clock=clock,
            records=self.records,
        )

    @property
    def notifier(self) -> BaseNotifier:
        """The notifier, the workspace's unless one was given (resolved on first use)."""
        if self._notifier is None:
            self._notifier = self.ws.notifier()
        return self._notifier

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
                    self.on_step("fired")
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
        states = tuple(self.records.trigger_states())
        events = tuple(self.records.events(limit=limit))
        return AgentStatus(lease=self.lease.current(), triggers=states, events=events)

    # -- evaluation -----------------------------------------------------------------

    def _states(self) -> dict[str, TriggerState]:
        return {state.trigger: state for state in self.records.trigger_states()}

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
        return self.records.arm_trigger(
            self.ws.actor,
            trigger=trigger.name,
            model=trigger.model,
            kind=trigger.kind,
            armed_at=seen.now,
            cursor=initial_cursor(trigger, seen),
        )

    def _fire(self, trigger: TriggerConfig, condition: Condition) -> TriggerState:
        now = self.now()
        event = NewEvent(
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
            at=now,
        )
        return self.records.fire_trigger(
            self.ws.actor,
            self.lease.claim(),
            event,
            cooldown_until=now + timedelta(seconds=trigger.cooldown_s),
            cursor=condition.cursor,
        )

    def events(
        self, *, limit: int | None = None, model: str | None = None
    ) -> list[AutomationEvent]:
        """Recorded automation events, oldest first (``limit``: the newest ones)."""
        return self.records.events(limit=limit, model=model)


def _quiet(line: str) -> None:
    """The default progress sink and step hook: does nothing."""
