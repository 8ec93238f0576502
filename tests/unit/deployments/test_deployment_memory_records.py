"""Deployment records held in memory: the contract holds, and DeploymentStore runs on them.

The in-memory records show that :class:`DeploymentStore` needs nothing but the interface:
no metadata store is opened for the rollouts below.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from conveyor.core import Actor, redact_value, utcnow
from conveyor.deployments import (
    BaseDeploymentRecords,
    ConcurrentDeploymentError,
    Deployment,
    DeploymentError,
    DeploymentStore,
    Transition,
    Variant,
)
from conveyor.deployments._errors import missing_revision_error, stale_revision_error
from conveyor.store import AuditEvent
from conveyor.testing.records._deployments import AuditLog, DeploymentRecordsContract


class MemoryDeploymentRecords(BaseDeploymentRecords):
    """Deployment records in dictionaries, audited into a list."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self._current: dict[str, Deployment] = {}
        self._history: dict[str, list[tuple[Transition, Deployment]]] = {}
        self._lock = threading.Lock()

    def current(self, environment: str) -> Deployment | None:
        return self._current.get(environment)

    def environments(self) -> list[Deployment]:
        return [self._current[name] for name in sorted(self._current)]

    def at_revision(self, environment: str, revision: int) -> Deployment:
        kept = self._history.get(environment, [])
        if not 1 <= revision <= len(kept):
            raise missing_revision_error(environment, revision, len(kept) or None)
        return kept[revision - 1][1]

    def history(self, environment: str) -> list[Transition]:
        return [transition for transition, _ in self._history.get(environment, [])]

    def history_page(
        self, environment: str, *, offset: int = 0, limit: int = 20, newest_first: bool = True
    ) -> tuple[list[Transition], int]:
        history = self.history(environment)
        ordered = history[::-1] if newest_first else history
        start = max(offset, 0)
        return ordered[start : start + max(limit, 0)], len(history)

    def record_transition(
        self,
        actor: Actor,
        deployment: Deployment,
        transition: Transition,
        *,
        expected_revision: int | None,
    ) -> None:
        _check(deployment, transition, expected_revision)
        environment = deployment.environment
        with self._lock:
            current = self._current.get(environment)
            if (None if current is None else current.revision) != expected_revision:
                raise stale_revision_error(environment, expected_revision, current)
            kept = replace(
                transition,
                reason=redact_value(transition.reason),
                details=redact_value(transition.details),
            )
            past = replace(deployment, params=redact_value(deployment.params))
            self._current[environment] = deployment
            self._history.setdefault(environment, []).append((kept, past))
            details: dict[str, Any] = {
                "revision": deployment.revision,
                "from_state": transition.from_state,
                "to_state": deployment.state,
                "strategy": deployment.strategy,
                "variants": [variant.to_dict() for variant in deployment.variants],
                "reason": transition.reason,
                **transition.details,
            }
            self.events.append(
                AuditEvent(
                    seq=len(self.events) + 1,
                    at=utcnow(),
                    actor=actor.name,
                    action=f"deploy.{transition.action}",
                    target=f"env:{environment}",
                    details=details,
                    prev_hash="",
                    hash="",
                )
            )


def _check(deployment: Deployment, transition: Transition, expected: int | None) -> None:
    same = (deployment.environment, deployment.revision, deployment.state) == (
        transition.environment,
        transition.revision,
        transition.to_state,
    )
    if not same or deployment.revision != (expected or 0) + 1:
        raise DeploymentError(
            "The transition does not match its deployment.", hint="Build both together."
        )


class TestMemoryDeploymentRecords(DeploymentRecordsContract):
    @pytest.fixture
    def records(self) -> MemoryDeploymentRecords:
        return MemoryDeploymentRecords()

    @pytest.fixture
    def audit_log(self, records: MemoryDeploymentRecords) -> AuditLog:
        return lambda: list(records.events)


def test_a_canary_rollout_runs_on_records_in_memory() -> None:
    """DeploymentStore speaks only the interface: deploy, advance, a stale writer, history."""
    records = MemoryDeploymentRecords()
    store: Any = None  # no metadata store: every read and write goes through ``records``
    deployments = DeploymentStore(store, actor=Actor("alice"), records=records)
    deployments.transition(
        "production",
        expected_revision=None,
        action="deploy",
        reason="first",
        strategy="replace",
        state="stable",
        variants=(Variant("churn", 1, "champion", 100.0),),
    )
    canary = deployments.transition(
        "production",
        expected_revision=1,
        action="deploy",
        reason="canary of churn@2",
        strategy="canary",
        state="progressing",
        steps=(10, 50),
        variants=(Variant("churn", 1, "champion", 90.0), Variant("churn", 2, "challenger", 10.0)),
    )
    assert canary.revision == 2
    assert canary.actor == "alice"
    with pytest.raises(ConcurrentDeploymentError, match="expected revision 1, found revision 2"):
        deployments.transition(
            "production", expected_revision=1, action="pause", reason="late", state="paused"
        )
    assert deployments.current("production") == canary
    assert deployments.get("production", 1).variants == (Variant("churn", 1, "champion", 100.0),)
    assert [t.action for t in deployments.history("production")] == ["deploy", "deploy"]
    assert [e.details["reason"] for e in records.events] == ["first", "canary of churn@2"]
