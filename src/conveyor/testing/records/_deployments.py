"""The contract of :class:`~conveyor.deployments.BaseDeploymentRecords`, as a test suite.

Subclass :class:`DeploymentRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.core import Actor
from conveyor.deployments import (
    BaseDeploymentRecords,
    ConcurrentDeploymentError,
    Deployment,
    DeploymentError,
    DeploymentNotFoundError,
    Transition,
    Variant,
)
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]
_T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
# Weights whose decimal form is long: they must come back bit for bit.
_THIRD = 100 / 3
_CHAMPION = Variant("churn", 1, "champion", 100.0)


def sample_deployment(
    revision: int,
    *,
    environment: str = "production",
    state: str = "stable",
    variants: tuple[Variant, ...] = (_CHAMPION,),
    **fields: Any,
) -> Deployment:
    """A deployment of ``environment`` at ``revision`` (a replace at 100 % unless told)."""
    values: dict[str, Any] = {
        "strategy": "replace",
        "updated_at": _T0 + timedelta(minutes=revision),
        "actor": "contract-tester",
        **fields,
    }
    return Deployment(
        environment=environment, revision=revision, state=state, variants=variants, **values
    )


def transition_for(
    deployment: Deployment, *, from_state: str | None, action: str = "deploy", **fields: Any
) -> Transition:
    """The transition that led to ``deployment`` from ``from_state``."""
    values: dict[str, Any] = {"reason": f"to revision {deployment.revision}", **fields}
    return Transition(
        environment=deployment.environment,
        revision=deployment.revision,
        action=action,
        from_state=from_state,
        to_state=deployment.state,
        variants=deployment.variants,
        actor=deployment.actor,
        at=deployment.updated_at or _T0,
        **values,
    )


def _first(records: BaseDeploymentRecords, actor: Actor, environment: str) -> Deployment:
    deployment = sample_deployment(1, environment=environment)
    records.record_transition(
        actor, deployment, transition_for(deployment, from_state=None), expected_revision=None
    )
    return deployment


def _canary(revision: int, weight: float, **fields: Any) -> Deployment:
    return sample_deployment(
        revision,
        strategy="canary",
        state="progressing",
        variants=(
            Variant("churn", 1, "champion", 100.0 - weight),
            Variant("churn", 2, "challenger", weight),
        ),
        **fields,
    )


class DeploymentRecordsContract:
    """Tests every :class:`~conveyor.deployments.BaseDeploymentRecords` must pass."""

    @pytest.fixture
    def records(self) -> BaseDeploymentRecords:
        """A fresh, empty implementation (subclasses override)."""
        raise NotImplementedError

    @pytest.fixture
    def actor(self) -> Actor:
        """Who signs the writes."""
        return Actor(name="contract-tester", kind="user")

    @pytest.fixture
    def audit_log(self) -> AuditLog:
        """The audit events recorded so far, oldest first (subclasses override)."""
        raise NotImplementedError

    def test_an_empty_backend_has_no_deployments(self, records: BaseDeploymentRecords) -> None:
        """Nothing deployed: no current deployment, no history, no revision."""
        assert records.current("production") is None
        assert records.environments() == []
        assert records.history("production") == []
        with pytest.raises(DeploymentNotFoundError, match="never deployed"):
            records.at_revision("production", 1)

    def test_the_current_deployment_comes_back_exactly_as_written(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """Weights, steps, times and parameters survive the round trip bit for bit."""
        _first(records, actor, "production")
        new = sample_deployment(
            2,
            strategy="canary",
            state="progressing",
            variants=(
                Variant("churn", 1, "champion", 100 - _THIRD),
                Variant("churn", 2, "challenger", _THIRD),
                Variant("churn", 3, "shadow", 0.0),
            ),
            steps=(5, 25, 50),
            step_index=1,
            step_started_at=_T0 + timedelta(seconds=1, microseconds=7),
            stable_revision=1,
            params={"split": _THIRD, "thresholds": {"p99_ms": 250}, "sticky_key": None},
        )
        records.record_transition(
            actor, new, transition_for(new, from_state="stable"), expected_revision=1
        )
        current = records.current("production")
        assert current == new
        assert current is not None
        assert [v.weight for v in current.variants] == [100 - _THIRD, _THIRD, 0.0]
        assert current.updated_at is not None
        assert current.updated_at.utcoffset() == timedelta(0)

    def test_environments_lists_each_current_deployment_by_name(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """One deployment per environment, ordered by environment name."""
        for environment in ("staging", "canary-eu", "production"):
            _first(records, actor, environment)
        assert [d.environment for d in records.environments()] == [
            "canary-eu",
            "production",
            "staging",
        ]
        assert all(d.revision == 1 for d in records.environments())

    def test_history_appends_one_transition_per_revision_oldest_first(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """Transitions are appended in revision order and kept as recorded."""
        _first(records, actor, "production")
        previous = "stable"
        for revision, weight in ((2, 5.0), (3, 25.0)):
            new = _canary(revision, weight)
            change = transition_for(
                new,
                from_state=previous,
                action="advance",
                details={"analysis": {"verdict": "pass", "p": 0.5}},
            )
            records.record_transition(actor, new, change, expected_revision=revision - 1)
            previous = new.state
        history = records.history("production")
        assert [t.revision for t in history] == [1, 2, 3]
        assert [t.action for t in history] == ["deploy", "advance", "advance"]
        assert [t.from_state for t in history] == [None, "stable", "progressing"]
        assert history[2] == transition_for(
            _canary(3, 25.0),
            from_state="progressing",
            action="advance",
            details={"analysis": {"verdict": "pass", "p": 0.5}},
        )
        assert records.history("staging") == []

    def test_a_page_of_history_is_a_slice_of_it_with_the_total(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """Pages count from the newest (or from revision 1) and know the whole length."""
        assert records.history_page("production") == ([], 0)
        _first(records, actor, "production")
        _first(records, actor, "staging")
        for revision in range(2, 8):
            new = _canary(revision, 5.0 * revision)
            change = transition_for(
                new,
                from_state="stable" if revision == 2 else "progressing",
                action="advance",
                details={"analysis": {"verdict": "pass", "step": revision}},
            )
            records.record_transition(actor, new, change, expected_revision=revision - 1)
        history = records.history("production")
        assert records.history_page("production") == (history[::-1], 7)
        page, total = records.history_page("production", offset=2, limit=3)
        assert ([t.revision for t in page], total) == ([5, 4, 3], 7)
        assert page == history[2:5][::-1]
        page, total = records.history_page("production", offset=5, limit=3, newest_first=False)
        assert ([t.revision for t in page], total) == ([6, 7], 7)
        assert page == history[5:]
        assert records.history_page("production", offset=7) == ([], 7)
        assert records.history_page("production", limit=0) == ([], 7)
        assert records.history_page("staging", newest_first=False) == (
            records.history("staging"),
            1,
        )
        assert records.history_page("canary") == ([], 0)

    def test_a_past_revision_is_rebuilt_whole(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """at_revision returns the deployment a transition led to, not the current one."""
        first = _first(records, actor, "production")
        new = _canary(2, _THIRD, steps=(5, 50), step_started_at=_T0, params={"k": [1, 2]})
        records.record_transition(
            actor, new, transition_for(new, from_state="stable"), expected_revision=1
        )
        assert records.at_revision("production", 1) == first
        assert records.at_revision("production", 2) == new
        with pytest.raises(DeploymentNotFoundError, match="revisions run 1-2"):
            records.at_revision("production", 3)

    def test_a_stale_expected_revision_is_refused_and_nothing_is_written(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """The compare-and-set names the state the writer lost against."""
        _first(records, actor, "production")
        winner = sample_deployment(2, state="rolled_back")
        records.record_transition(
            actor, winner, transition_for(winner, from_state="stable"), expected_revision=1
        )
        late = sample_deployment(2, state="paused")
        with pytest.raises(ConcurrentDeploymentError, match="expected revision 1") as info:
            records.record_transition(
                actor, late, transition_for(late, from_state="stable"), expected_revision=1
            )
        assert info.value.fields["current_revision"] == 2
        assert info.value.fields["current_state"] == "rolled_back"
        again = sample_deployment(1, state="paused")
        with pytest.raises(ConcurrentDeploymentError):
            records.record_transition(
                actor, again, transition_for(again, from_state=None), expected_revision=None
            )
        assert records.current("production") == winner
        assert [t.to_state for t in records.history("production")] == ["stable", "rolled_back"]

    def test_an_expected_revision_of_a_missing_environment_is_refused(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """Expecting revision 3 of an environment never deployed loses against nothing."""
        new = sample_deployment(4)
        with pytest.raises(ConcurrentDeploymentError, match="no deployment") as info:
            records.record_transition(
                actor, new, transition_for(new, from_state="stable"), expected_revision=3
            )
        assert info.value.fields["current_revision"] is None
        assert records.current("production") is None

    def test_a_transition_that_disagrees_with_its_deployment_is_refused(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """Mismatched environment, revision or state, or a skipped revision: nothing written."""
        good = sample_deployment(1)
        bad_pairs = [
            (
                good,
                transition_for(sample_deployment(1, environment="staging"), from_state=None),
                None,
            ),
            (good, transition_for(sample_deployment(2), from_state=None), None),
            (good, transition_for(sample_deployment(1, state="paused"), from_state=None), None),
            (sample_deployment(2), transition_for(sample_deployment(2), from_state=None), None),
        ]
        for deployment, change, expected in bad_pairs:
            with pytest.raises(DeploymentError, match="does not match"):
                records.record_transition(actor, deployment, change, expected_revision=expected)
        assert records.current("production") is None
        assert records.environments() == []

    def test_racing_writers_of_one_revision_exactly_one_wins(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """Two writers based on the same revision: one commits, the other is refused."""
        _first(records, actor, "production")
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def write(state: str) -> None:
            new = sample_deployment(2, state=state)
            barrier.wait()
            try:
                records.record_transition(
                    actor, new, transition_for(new, from_state="stable"), expected_revision=1
                )
                outcomes.append("won")
            except ConcurrentDeploymentError as exc:
                outcomes.append(f"lost:{exc.fields['current_revision']}")

        threads = [threading.Thread(target=write, args=(s,)) for s in ("paused", "rolled_back")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["lost:2", "won"]
        assert [t.revision for t in records.history("production")] == [1, 2]

    def test_each_transition_is_audited_with_its_action_and_reason(
        self, records: BaseDeploymentRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """One audit event ``deploy.<action>`` on ``env:<environment>`` per transition."""
        _first(records, actor, "production")
        new = sample_deployment(2, state="rolled_back")
        change = transition_for(
            new,
            from_state="stable",
            action="rollback",
            reason="error rate doubled",
            details={"analysis": {"verdict": "fail"}},
        )
        records.record_transition(actor, new, change, expected_revision=1)
        events = [e for e in audit_log() if e.target == "env:production"]
        assert [e.action for e in events] == ["deploy.deploy", "deploy.rollback"]
        assert {e.actor for e in events} == {actor.name}
        details = events[1].details
        assert details["revision"] == 2
        assert details["from_state"] == "stable"
        assert details["to_state"] == "rolled_back"
        assert details["strategy"] == "replace"
        assert details["reason"] == "error rate doubled"
        assert details["variants"] == [_CHAMPION.to_dict()]
        assert details["analysis"] == {"verdict": "fail"}

    def test_the_history_keeps_no_secret_a_reason_quotes(
        self, records: BaseDeploymentRecords, actor: Actor
    ) -> None:
        """Reasons and details are redacted in the history (they reach webhooks)."""
        first = sample_deployment(1)
        change = transition_for(
            first,
            from_state=None,
            reason="pulled from https://bot:hunter2@registry.example/x",
            details={"token": "abc123"},
        )
        records.record_transition(actor, first, change, expected_revision=None)
        (kept,) = records.history("production")
        assert "hunter2" not in kept.reason
        assert kept.details["token"] != "abc123"  # noqa: S105 - the secret must be gone
