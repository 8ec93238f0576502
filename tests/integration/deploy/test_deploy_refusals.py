"""Bad input and faults: refused deploys, nothing to act on, restarts, approval, races."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest
from deploy_support import BreaksAfterLoading, Clock, ScriptedAnalyzer, traffic

from conveyor.checks import GateDecision, Subject, record_decision
from conveyor.deployments import ConcurrentDeploymentError, DeploymentError
from conveyor.notify import BaseNotifier, MemoryNotifier
from conveyor.registry import ModelVersionNotFoundError
from conveyor.rollout import (
    Controller,
    DeploymentInProgressError,
    DeployRefusedError,
    EnvironmentNotFoundError,
    GateRejectedError,
    NothingToDoError,
    VersionNotReadyError,
)
from conveyor.workspace import Workspace


def test_an_environment_not_in_the_configuration_is_refused(controller: Controller) -> None:
    with pytest.raises(EnvironmentNotFoundError, match=r"'moon' is not configured.*production"):
        controller.deploy("churn@1", "moon")


def test_an_unknown_or_archived_version_is_refused(controller: Controller, ws: Workspace) -> None:
    with pytest.raises(ModelVersionNotFoundError, match="no version 9"):
        controller.deploy("churn@9", "production")
    ws.models.archive("churn", 4, reason="obsolete")
    with pytest.raises(DeployRefusedError, match="churn@4 is archived"):
        controller.deploy("churn@4", "production")
    assert controller.deployments.current("production") is None


def test_an_overlapping_deploy_is_refused_showing_the_first_ones_state(
    controller: Controller,
) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "production")
    with pytest.raises(
        DeploymentInProgressError,
        match=r"revision 2 \(canary, progressing\): churn@1 champion 90%, churn@2 challenger 10%",
    ):
        controller.deploy("churn@3", "production")


def test_a_gate_reject_blocks_the_deploy_unless_forced_with_a_recorded_reason(
    controller: Controller, ws: Workspace
) -> None:
    record_decision(
        ws,
        GateDecision("REJECT", ("roc_auc 0.71 < 0.9",), Subject("model", "churn@2"), None, "s1"),
    )
    with pytest.raises(GateRejectedError, match=r"rejected churn@2: roc_auc 0.71 < 0.9"):
        controller.deploy("churn@2", "staging")
    deployment = controller.deploy("churn@2", "staging", force_reason="hotfix approved by CTO")
    last = controller.deployments.history("staging")[-1]
    assert deployment.live[0].ref == "churn@2"
    assert last.details["force_reason"] == "hotfix approved by CTO"
    assert "gate overridden: hotfix approved by CTO" in last.reason


def test_a_version_already_serving_is_not_deployed_again(controller: Controller) -> None:
    controller.deploy("churn@1", "staging")
    with pytest.raises(DeployRefusedError, match="churn@1 already serves 'staging'"):
        controller.deploy("churn@1", "staging")


def test_promote_or_rollback_with_nothing_to_act_on_is_refused(controller: Controller) -> None:
    with pytest.raises(NothingToDoError, match="never deployed"):
        controller.promote("production", reason="x")
    with pytest.raises(NothingToDoError, match="never deployed"):
        controller.rollback("production", reason="x")
    controller.deploy("churn@1", "production")
    with pytest.raises(NothingToDoError, match="no rollout in progress"):
        controller.promote("production", reason="x")
    with pytest.raises(NothingToDoError, match="no earlier stable state"):
        controller.rollback("production", reason="x")
    with pytest.raises(NothingToDoError, match="not paused"):
        controller.resume("production")
    with pytest.raises(NothingToDoError, match="Nothing awaits approval"):
        controller.approve("production")


def test_rollback_to_a_named_revision_and_refusal_of_an_in_progress_one(
    controller: Controller,
) -> None:
    controller.deploy("churn@1", "staging")
    controller.deploy("churn@2", "staging")
    controller.deploy("churn@3", "staging", strategy="canary")
    back = controller.rollback("staging", to_revision=1, reason="back to the first")
    assert back.live[0].ref == "churn@1"
    assert back.params["restored_revision"] == 1
    with pytest.raises(DeploymentError, match=r"Revision 3 .* was a rollout in progress"):
        controller.rollback("staging", to_revision=3, reason="x")


def test_a_restarted_controller_continues_the_canary_with_the_exact_weights(
    ws: Workspace, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    first = Controller(ws, clock=clock, analyzer=analyzer)
    first.deploy("churn@1", "production")
    first.deploy("churn@2", "production")
    analyzer.verdict = "pass"
    clock.advance(60)
    before = first.tick("production", stats=traffic(900, 120))
    del first
    restarted = Controller(ws, clock=clock, analyzer=analyzer)
    assert restarted.status("production") == before
    clock.advance(30)
    # The step clock and request baseline were persisted: still too early, still 50 %.
    same = restarted.tick("production", stats=traffic(950, 400))
    assert same == before
    clock.advance(30)
    after = restarted.tick("production", stats=traffic(950, 400))
    assert after is not None
    assert after.step_index == 2
    assert [v.weight for v in after.variants] == [0.0, 100.0]


def test_two_controllers_ticking_the_same_revision_apply_one_transition(
    ws: Workspace, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    one = Controller(ws, clock=clock, analyzer=analyzer)
    two = Controller(ws, clock=clock, analyzer=analyzer)
    one.deploy("churn@1", "production")
    seen = one.deploy("churn@2", "production")
    analyzer.verdict = "fail"
    clock.advance(60)
    one.tick("production", stats=traffic(900, 120))
    with pytest.raises(ConcurrentDeploymentError, match=r"moved on|expected revision 2"):
        two.rollback_from(seen, reason="late")
    assert [t.action for t in one.deployments.history("production")] == [
        "deploy",
        "deploy",
        "rollback",
    ]


def test_an_environment_requiring_approval_waits_then_starts_on_approve(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    waiting = controller.deploy("churn@1", "gated")
    assert waiting.state == "awaiting_approval"
    assert waiting.live == ()
    started = controller.approve("gated", reason="bob approved")
    assert started.state == "stable"
    assert started.live[0].ref == "churn@1"
    pending = controller.deploy("churn@2", "gated")
    assert pending.state == "awaiting_approval"
    assert pending.live == started.live  # traffic is unchanged while waiting
    with pytest.raises(DeploymentInProgressError, match="awaiting_approval"):
        controller.deploy("churn@3", "gated")
    canary = controller.approve("gated")
    assert [v.weight for v in canary.variants] == [80.0, 20.0]
    analyzer.verdict = "pass"
    controller.tick("gated", stats=traffic(10, 10))
    promoted = controller.tick("gated", stats=traffic(10, 20))
    assert promoted is not None
    assert promoted.state == "promoted"
    assert [t.actor for t in controller.deployments.history("gated")] == ["alice"] * 6


def test_a_version_that_fails_its_smoke_prediction_is_not_deployed(
    controller: Controller, ws: Workspace
) -> None:
    frame = pd.DataFrame({"age": [30.0], "spend": [10.0]})
    ws.models.register(
        "broken",
        BreaksAfterLoading(),
        input_example=frame,
        trusted=True,
        flavor="pickle",
        explain=False,
        onnx=False,
    )
    controller.deploy("churn@1", "staging")
    with pytest.raises(VersionNotReadyError, match=r"failed its smoke prediction.*exploded"):
        controller.deploy("broken@1", "staging")
    assert controller.deployments.current("staging").live[0].ref == "churn@1"  # type: ignore[union-attr]


def test_transitions_are_announced_and_a_failing_notifier_does_not_block(
    ws: Workspace, clock: Clock
) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    class Broken(BaseNotifier):
        """Breaks the contract: raises from ``send``."""

        def send(self, event: str, payload: Mapping[str, Any]) -> int:
            events.append((event, dict(payload)))
            raise ConnectionError("receiver is down")

    controller = Controller(ws, clock=clock, notifier=Broken())
    controller.deploy("churn@1", "staging")
    controller.deploy("churn@2", "staging")
    assert [e for e, _ in events] == ["deploy.deploy", "deploy.deploy"]
    assert events[1][1]["revision"] == 2
    assert controller.deployments.current("staging").live[0].ref == "churn@2"  # type: ignore[union-attr]


def test_without_a_notifier_transitions_are_announced_through_the_workspace_notifier(
    ws: Workspace, clock: Clock
) -> None:
    controller = Controller(ws, clock=clock)
    assert controller.notifier is ws.notifier()


def test_each_transition_is_announced_with_the_deployment_action_and_reason(
    ws: Workspace, clock: Clock
) -> None:
    notifier = MemoryNotifier()
    controller = Controller(ws, clock=clock, notifier=notifier)
    deployed = controller.deploy("churn@1", "staging")
    [(event, payload)] = notifier.events
    assert event == "deploy.deploy"
    assert payload == {**deployed.to_dict(), "action": "deploy", "reason": payload["reason"]}
    assert payload["revision"] == deployed.revision
