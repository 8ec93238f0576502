"""One retraining job, carried on step by step from whatever the store says is done.

A job starts at a trigger firing and ends with an ``outcome`` event (``deployed``,
``held``, ``failed``, or ``no_change`` when there is nothing new to learn from: see
:mod:`._unchanged`). Each step is keyed
``<firing key>/<step>``; before doing a step the job looks at the firing's events, so a
job picked up after a crash skips what is recorded and, for the two steps whose effects
land before they are recorded (training registers a version; the deployer writes a
deployment revision), finds those effects in the registry and the deployment history
instead of repeating them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.automation._records import AutomationEvent, NewEvent, TriggerState
from conveyor.automation._traffic import include_traffic
from conveyor.automation._unchanged import nothing_new, reproduced
from conveyor.checks import latest_decision
from conveyor.core import isoformat
from conveyor.deployments import Deployment, DeploymentError
from conveyor.errors import ConveyorError
from conveyor.registry import ModelNotFoundError

if TYPE_CHECKING:
    from conveyor.automation._agent import Agent
    from conveyor.ci import CIResult
    from conveyor.registry import ModelVersion

#: A job whose training was started this many times without finishing is given up.
MAX_ATTEMPTS = 3

#: ``trainer(ws, report_dir=...)`` trains, registers and gates a candidate (``run_ci``).
Trainer = Callable[..., "CIResult"]


@dataclass(frozen=True)
class _Candidate:
    ref: str
    version: int
    run_id: str | None
    decision: str | None
    reasons: tuple[str, ...]


class Job:
    """Carries on the firing rooted at ``state.current_event_id`` for ``agent``."""

    def __init__(self, agent: Agent, state: TriggerState) -> None:
        assert state.current_event_id is not None
        self.agent = agent
        self.ws = agent.ws
        self.state = state
        self.root_id = state.current_event_id
        self.trigger = agent.trigger(state.trigger)

    def carry_on(self) -> AutomationEvent:
        """Do every step not yet recorded; return the outcome event."""
        events = self._events()
        if "outcome" in events:
            self._finish(events["outcome"])
            return events["outcome"]
        if "error" in events:
            return self._outcome(events["error"], "failed", events["error"].reason)
        if "gate" not in events:
            failure = self._train(events)
            if failure is not None:
                return failure
            events = self._events()
        gate = events["gate"]
        if gate.details.get("decision") != "PROMOTE":
            reasons = "; ".join(gate.details.get("reasons", [])) or "no reason recorded"
            return self._outcome(
                gate,
                "held",
                f"{gate.details.get('ref')} not deployed ({gate.details.get('decision')}: "
                f"{reasons}); the champion stays",
            )
        if "deploy" not in events:
            same = reproduced(self.ws, self.trigger, str(gate.details.get("ref")))
            if same is not None:
                return self._outcome(gate, "no_change", same)
        deploy = events.get("deploy") or self._deploy(gate)
        if deploy.kind == "error":
            return self._outcome(deploy, "failed", deploy.reason)
        return self._outcome(deploy, "deployed", deploy.reason)

    # -- training -------------------------------------------------------------------

    def _train(self, events: dict[str, AutomationEvent]) -> AutomationEvent | None:
        root = events["trigger"]
        found = self._recover_candidate() if self.state.attempt is not None else None
        recovered = found is not None
        if found is None:
            if self.state.attempts >= MAX_ATTEMPTS:
                return self._fail(
                    root,
                    f"training was started {self.state.attempts} times and never finished "
                    "(the process stopped each time)",
                    {"attempts": self.state.attempts},
                )
            self._start_attempt()
            self.agent.on_step("run_started")
            say = self.agent.progress
            report_dir = report_dir_of(self.ws.root, self.root_id)
            try:
                if self.trigger.include_traffic is not None:
                    say(f"adding labelled traffic from {self.trigger.env} to the training data")
                    include_traffic(self.ws, self.trigger.env, self.trigger.include_traffic)
                unchanged = nothing_new(self.ws, self.trigger)
                if unchanged is not None:
                    return self._outcome(root, "no_change", unchanged)
                say(f"retraining {self.trigger.model} (pipeline, checks and gates)")
                result = self.agent.trainer(self.ws, report_dir=report_dir)
            except Exception as exc:  # noqa: BLE001 - any trainer failure fails the job
                return self._fail(root, f"retraining failed: {exc}", {"error": repr(exc)})
            self.agent.on_step("trained")
            found = _candidate_of(result)
            say(f"registered {found.ref}; gates: {found.decision}")
        self._record_candidate(root, found, recovered=recovered)
        self.agent.on_step("registered")
        return None

    def _start_attempt(self) -> None:
        attempt = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "at": isoformat(self.agent.now()),
        }
        self.agent.records.start_attempt(
            self.ws.actor, self.agent.lease.claim(), trigger=self.state.trigger, attempt=attempt
        )

    def _recover_candidate(self) -> _Candidate | None:
        """The version a killed attempt registered: from a run of the same host and pid."""
        attempt = self.state.attempt or {}
        since = datetime.fromisoformat(str(attempt.get("at")))
        try:
            versions = self.ws.models.versions(self.trigger.model)
        except ModelNotFoundError:
            return None  # the killed attempt registered nothing: not even a first version
        for version in reversed(versions):
            if version.created_at < since or version.run_id is None:
                continue
            run = self.ws.runs.get(version.run_id)
            if run.host == attempt.get("host") and run.pid == attempt.get("pid"):
                decision = latest_decision(self.ws, version.ref)
                return _Candidate(
                    ref=version.ref,
                    version=version.version,
                    run_id=version.run_id,
                    decision=None if decision is None else decision.decision,
                    reasons=() if decision is None else decision.reasons,
                )
        return None

    def _record_candidate(
        self, root: AutomationEvent, found: _Candidate, *, recovered: bool
    ) -> None:
        note = " (found after a restart)" if recovered else ""
        decision = found.decision or "HOLD"
        reasons = list(found.reasons) or (
            [] if found.decision else ["the gates did not finish before the agent stopped"]
        )
        now = self.agent.now()
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("run", f"retraining run {found.run_id}{note}", {"run_id": found.run_id}),
            (
                "register",
                f"registered candidate {found.ref}",
                {"ref": found.ref, "version": found.version, "run_id": found.run_id},
            ),
            (
                "gate",
                f"gates: {decision} for {found.ref}",
                {"ref": found.ref, "decision": decision, "reasons": reasons},
            ),
        ]
        self.agent.records.record_events(
            self.ws.actor,
            self.agent.lease.claim(),
            [
                self._new_event(root.idempotency_key, kind, reason, details, now)
                for kind, reason, details in steps
            ],
            action="agent.register",
            target=f"model:{found.ref}",
            parent_id=root.id,
        )

    # -- deployment -----------------------------------------------------------------

    def _deploy(self, gate: AutomationEvent) -> AutomationEvent:
        ref = str(gate.details["ref"])
        env = self.trigger.env
        deployment = self._already_deployed(gate, ref, env)
        recovered = deployment is not None
        features_note = ""
        if deployment is None:
            try:
                features_note = self._sync_features(ref)
            except ConveyorError as exc:
                return self._fail(
                    gate,
                    f"{ref} not deployed: its online features could not be brought up to "
                    f"date: {exc}",
                    {"error": exc.message},
                )
            self.agent.progress(f"deploying {ref} to {env}")
            try:
                deployment = self.agent.deployer(ref, env)
            except ConveyorError as exc:
                return self._fail(
                    gate, f"deploying {ref} to {env} failed: {exc}", {"error": exc.message}
                )
            self.agent.on_step("deployed")
        note = " (found after a restart)" if recovered else ""
        return self._record(
            gate,
            "deploy",
            f"{ref} handed to {env}: {deployment.strategy}, {deployment.state}, "
            f"revision {deployment.revision}{note}{features_note}",
            {"ref": ref, "environment": env, "deployment": deployment.to_dict()},
        )

    def _sync_features(self, ref: str) -> str:
        """For a candidate trained through a feature service: materialize the online store
        (incremental: only what changed) and check it against the offline join, so the
        model is served the values it was trained on. Returns a note for the event.

        Raises:
            ConveyorError: Materialization failed, or the skew check found mismatches.
        """
        from conveyor.features import SERVICE_TAG, feature_skew

        service = self.ws.models.get(ref).tags.get(SERVICE_TAG)
        if not isinstance(service, str):
            return ""
        self.agent.progress(f"materializing the online features of {service}")
        done = self.ws.features.materialize()
        skew = feature_skew(self.ws.features, service)
        if not skew.passed:
            raise ConveyorError(
                f"the skew check of {service} failed after materializing: {skew.explanation}",
                hint="Run `conveyor features skew` to see the mismatching keys.",
                service=service,
            )
        written = sum(m.rows for m in done)
        return f"; online features of {service}: {written:,} key(s) written, skew check passed"

    def _already_deployed(self, gate: AutomationEvent, ref: str, env: str) -> Deployment | None:
        """The revision a killed agent's deployer wrote for ``ref``, if any."""
        deployments = self.ws.deployments
        try:
            history = deployments.history(env)
        except DeploymentError:
            return None
        for transition in history:
            if transition.at >= gate.at and any(v.ref == ref for v in transition.variants):
                return deployments.get(env, transition.revision)
        return None

    # -- recording ------------------------------------------------------------------

    def _events(self) -> dict[str, AutomationEvent]:
        return self.agent.records.firing_events(self.root_id)

    def _new_event(
        self, root_key: str, kind: str, reason: str, details: dict[str, Any], at: datetime
    ) -> NewEvent:
        return NewEvent(
            key=f"{root_key}/{kind}",
            trigger=self.state.trigger,
            kind=kind,
            model=self.trigger.model,
            reason=reason,
            details=details,
            at=at,
        )

    def _record(
        self, parent: AutomationEvent, kind: str, reason: str, details: dict[str, Any]
    ) -> AutomationEvent:
        root_key = self._events()["trigger"].idempotency_key
        event = self._new_event(root_key, kind, reason, details, self.agent.now())
        (recorded,) = self.agent.records.record_events(
            self.ws.actor,
            self.agent.lease.claim(),
            [event],
            action=f"agent.{kind}",
            target=f"model:{self.trigger.model}",
            parent_id=parent.id,
        )
        return recorded

    def _fail(
        self, parent: AutomationEvent, reason: str, details: dict[str, Any]
    ) -> AutomationEvent:
        error = self._record(parent, "error", reason, details)
        self.agent.notifier.send(
            "agent.retrain_failed",
            {"trigger": self.state.trigger, "model": self.trigger.model, "reason": reason},
        )
        return self._outcome(error, "failed", reason)

    def _outcome(self, parent: AutomationEvent, result: str, reason: str) -> AutomationEvent:
        outcome = self._record(parent, "outcome", reason, {"result": result})
        self._finish(outcome)
        self.agent.progress(f"{result}: {reason}")
        return outcome

    def _finish(self, outcome: AutomationEvent) -> None:
        self.agent.records.finish_job(
            self.ws.actor,
            self.agent.lease.claim(),
            trigger=self.state.trigger,
            outcome=outcome.details.get("result"),
        )


def _candidate_of(result: CIResult) -> _Candidate:
    version: ModelVersion = result.model_version
    return _Candidate(
        ref=version.ref,
        version=version.version,
        run_id=result.run_id,
        decision=result.decision.decision,
        reasons=tuple(result.decision.reasons),
    )


def report_dir_of(root: Path, event_id: int) -> Path:
    """Where the trainer of firing ``event_id`` writes its CI reports."""
    return root / ".conveyor" / "reports" / "agent" / str(event_id)
