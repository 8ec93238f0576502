"""DeploymentStore on SQLite and PostgreSQL: revisions, concurrency, history, audit."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from conveyor.core import Actor
from conveyor.deployments import (
    ConcurrentDeploymentError,
    DeploymentError,
    DeploymentNotFoundError,
    DeploymentStore,
    Variant,
)
from conveyor.store import open_store

CHAMPION = Variant("churn", 1, "champion", 100.0)


@pytest.fixture
def deployments(metadata_url: str) -> Iterator[DeploymentStore]:
    store = open_store(metadata_url)
    try:
        yield DeploymentStore(store, actor=Actor("alice"))
    finally:
        store.close()


def _first(deployments: DeploymentStore, env: str = "production") -> None:
    deployments.transition(
        env,
        expected_revision=None,
        action="deploy",
        reason="first",
        strategy="replace",
        state="stable",
        variants=(CHAMPION,),
    )


def test_revisions_are_contiguous_and_the_current_state_is_the_last(
    deployments: DeploymentStore,
) -> None:
    _first(deployments)
    for expected, weight in ((1, 5.0), (2, 25.0), (3, 50.0)):
        deployments.transition(
            "production",
            expected_revision=expected,
            action="advance",
            reason=f"to {weight}",
            strategy="canary",
            state="progressing",
            variants=(
                Variant("churn", 1, "champion", 100 - weight),
                Variant("churn", 2, "challenger", weight),
            ),
        )
    current = deployments.current("production")
    assert current is not None
    assert current.revision == 4
    assert current.by_role("challenger") == Variant("churn", 2, "challenger", 50.0)
    assert [t.revision for t in deployments.history("production")] == [1, 2, 3, 4]
    assert deployments.get("production", 2).variants[1].weight == 5.0
    assert deployments.current("staging") is None


def test_a_stale_writer_gets_the_current_state_in_its_error(
    deployments: DeploymentStore,
) -> None:
    _first(deployments)
    deployments.transition(
        "production", expected_revision=1, action="pause", reason="x", state="stable"
    )
    with pytest.raises(
        ConcurrentDeploymentError, match=r"expected revision 1, found revision 2"
    ) as info:
        deployments.transition(
            "production", expected_revision=1, action="pause", reason="late", state="stable"
        )
    assert info.value.fields["current_revision"] == 2
    assert info.value.fields["current_state"] == "stable"
    with pytest.raises(ConcurrentDeploymentError, match="no deployment"):
        deployments.transition(
            "staging", expected_revision=3, action="deploy", reason="x", state="stable"
        )


def test_two_racing_controllers_one_wins_and_the_other_is_refused(
    deployments: DeploymentStore,
) -> None:
    _first(deployments)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(name: str) -> None:
        barrier.wait()
        try:
            deployments.transition(
                "production",
                expected_revision=1,
                action="rollback",
                reason=name,
                state="rolled_back",
            )
            outcomes.append("won")
        except ConcurrentDeploymentError as exc:
            outcomes.append(f"lost:{exc.fields['current_revision']}")

    threads = [threading.Thread(target=act, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost:2", "won"]
    assert [t.revision for t in deployments.history("production")] == [1, 2]


def test_every_transition_is_audited_with_actor_and_reason(
    deployments: DeploymentStore,
) -> None:
    _first(deployments)
    deployments.transition(
        "production",
        expected_revision=1,
        action="rollback",
        reason="error rate doubled",
        details={"analysis": {"verdict": "fail"}},
        state="rolled_back",
    )
    events = deployments.store.audit_log(target_prefix="env:production")
    assert [e.action for e in events] == ["deploy.deploy", "deploy.rollback"]
    assert events[1].actor == "alice"
    assert events[1].details["reason"] == "error rate doubled"
    assert events[1].details["from_state"] == "stable"
    assert events[1].details["to_state"] == "rolled_back"
    history = deployments.history("production")
    assert history[1].reason == "error rate doubled"
    assert history[1].actor == "alice"
    assert history[1].details == {"analysis": {"verdict": "fail"}}
    assert deployments.store.verify_audit().ok


def test_invalid_transitions_are_refused_and_nothing_is_written(
    deployments: DeploymentStore,
) -> None:
    with pytest.raises(DeploymentError, match="needs"):
        deployments.transition("production", expected_revision=None, action="deploy", reason="x")
    _first(deployments)
    with pytest.raises(DeploymentError, match="sum to 50 %"):
        deployments.transition(
            "production",
            expected_revision=1,
            action="advance",
            reason="x",
            variants=(Variant("churn", 1, "champion", 50.0),),
        )
    with pytest.raises(DeploymentError, match="State 'exploded'"):
        deployments.transition(
            "production", expected_revision=1, action="x", reason="x", state="exploded"
        )
    with pytest.raises(DeploymentError, match="Unknown deployment fields"):
        deployments.transition(
            "production", expected_revision=1, action="x", reason="x", colour="red"
        )
    assert [t.revision for t in deployments.history("production")] == [1]


def test_an_unknown_revision_names_the_existing_range(deployments: DeploymentStore) -> None:
    _first(deployments)
    with pytest.raises(DeploymentNotFoundError, match="revisions run 1-1"):
        deployments.get("production", 7)
    with pytest.raises(DeploymentNotFoundError, match="never deployed"):
        deployments.get("staging", 1)
