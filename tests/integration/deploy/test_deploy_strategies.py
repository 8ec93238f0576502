"""Each strategy's transitions, driven through the real controller on a virtual clock."""

from __future__ import annotations

import pytest
from deploy_support import Clock, ScriptedAnalyzer, traffic

from conveyor.deployments import Variant
from conveyor.rollout import Controller
from conveyor.workspace import Workspace


def _weights(controller: Controller, env: str = "production") -> dict[str, float]:
    current = controller.deployments.current(env)
    assert current is not None
    return {f"{v.role}:{v.ref}": v.weight for v in current.variants}


def test_the_first_deployment_replaces_and_sets_the_champion_alias(
    controller: Controller, ws: Workspace
) -> None:
    deployment = controller.deploy("churn@1", "production")
    assert (deployment.revision, deployment.state, deployment.strategy) == (1, "stable", "replace")
    assert deployment.live == (Variant("churn", 1, "champion", 100.0),)
    assert "first deployment" in controller.deployments.history("production")[0].reason
    assert ws.models.get("churn@champion").version == 1


def test_replace_switches_all_traffic_at_once(controller: Controller, ws: Workspace) -> None:
    controller.deploy("churn@1", "staging")
    deployment = controller.deploy("churn@2", "staging")
    assert deployment.state == "stable"
    assert deployment.variants == (Variant("churn", 2, "champion", 100.0),)
    assert deployment.stable_revision == 1
    # Staging moves its own alias; champion follows production only.
    assert ws.models.get("churn@staging").version == 2
    assert "champion" not in ws.models.get("churn@staging").aliases


def test_blue_green_keeps_blue_warm_and_rollback_is_instant(controller: Controller) -> None:
    controller.deploy("churn@1", "staging")
    switched = controller.deploy("churn@2", "staging", strategy="blue-green")
    assert switched.variants == (
        Variant("churn", 2, "green", 100.0),
        Variant("churn", 1, "blue", 0.0),
    )
    back = controller.rollback("staging", reason="green misbehaves")
    assert back.state == "rolled_back"
    assert back.live == (Variant("churn", 1, "champion", 100.0),)


def test_canary_advances_step_by_step_and_promotes_after_the_last(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer, ws: Workspace
) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "production")
    assert _weights(controller) == {"champion:churn@1": 90.0, "challenger:churn@2": 10.0}
    analyzer.verdict = "pass"
    # Too early: the step has not lasted min_step_duration_s.
    clock.advance(30)
    assert controller.tick("production", stats=traffic(900, 500)).revision == 2  # type: ignore[union-attr]
    # Long enough but too few challenger requests in the step.
    clock.advance(31)
    assert controller.tick("production", stats=traffic(900, 50)).revision == 2  # type: ignore[union-attr]
    assert analyzer.calls == []
    advanced = controller.tick("production", stats=traffic(900, 120))
    assert advanced is not None
    assert advanced.step_index == 1
    assert _weights(controller) == {"champion:churn@1": 50.0, "challenger:churn@2": 50.0}
    # Idempotent: ticking again at once changes nothing.
    assert controller.tick("production", stats=traffic(900, 300)).revision == 3  # type: ignore[union-attr]
    clock.advance(60)
    # The step's request count starts from where the previous step ended (120).
    assert controller.tick("production", stats=traffic(950, 180)).revision == 3  # type: ignore[union-attr]
    controller.tick("production", stats=traffic(950, 220))
    assert _weights(controller) == {"champion:churn@1": 0.0, "challenger:churn@2": 100.0}
    clock.advance(60)
    promoted = controller.tick("production", stats=traffic(950, 400))
    assert promoted is not None
    assert promoted.state == "promoted"
    assert promoted.variants == (Variant("churn", 2, "champion", 100.0),)
    assert ws.models.get("churn@champion").version == 2
    actions = [t.action for t in controller.deployments.history("production")]
    assert actions == ["deploy", "deploy", "advance", "advance", "promote"]
    assert "analysis passed" in controller.deployments.history("production")[-1].reason


def test_a_failed_analysis_rolls_the_canary_back_with_its_verdict_as_reason(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer, ws: Workspace
) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@3", "production")
    analyzer.verdict = "fail"
    clock.advance(60)
    rolled = controller.tick("production", stats=traffic(1000, 150))
    assert rolled is not None
    assert rolled.state == "rolled_back"
    assert rolled.live == (Variant("churn", 1, "champion", 100.0),)
    last = controller.deployments.history("production")[-1]
    assert last.action == "rollback"
    assert last.reason == "analysis failed: scripted fail"
    assert last.details["analysis"]["challenger_requests"] == 150
    assert ws.models.get("churn@champion").version == 1


def test_continue_changes_nothing(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "production")
    clock.advance(120)
    assert controller.tick("production", stats=traffic(1000, 150)).revision == 2  # type: ignore[union-attr]
    assert analyzer.calls == [(1000, 150)]


def test_tick_reads_stats_since_the_rollout_started_when_none_are_given(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    controller.deploy("churn@1", "production")
    started = controller.deploy("churn@2", "production")
    analyzer.log_stats = traffic(500, 200)
    clock.advance(60)
    controller.tick("production")
    assert analyzer.stats_calls == [("production", 2, started.step_started_at)]
    assert analyzer.calls == [(500, 200)]


def test_shadow_gets_copies_only_and_is_promoted_by_analysis(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    controller.deploy("churn@1", "production")
    deployment = controller.deploy("churn@2", "production", strategy="shadow")
    assert deployment.live == (Variant("churn", 1, "champion", 100.0),)
    assert deployment.shadow == Variant("churn", 2, "shadow", 0.0)
    analyzer.verdict = "pass"
    clock.advance(60)
    promoted = controller.tick("production", stats=traffic(300, 300, role="shadow"))
    assert promoted is not None
    assert promoted.state == "promoted"
    assert promoted.live == (Variant("churn", 2, "champion", 100.0),)


def test_ab_holds_a_fixed_split_until_promoted_by_hand(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    controller.deploy("churn@1", "experiments")
    split = controller.deploy("churn@2", "experiments")
    assert split.variants == (Variant("churn", 1, "a", 70.0), Variant("churn", 2, "b", 30.0))
    assert split.params["sticky_key"] == "x-user-id"
    analyzer.verdict = "fail"
    clock.advance(10_000)
    assert controller.tick("experiments", stats=traffic(1, 1)).revision == 2  # type: ignore[union-attr]
    promoted = controller.promote("experiments", reason="B wins on conversion")
    assert promoted.live == (Variant("churn", 2, "champion", 100.0),)


def test_pause_freezes_a_canary_and_resume_continues(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "production")
    paused = controller.pause("production")
    analyzer.verdict = "pass"
    clock.advance(600)
    assert controller.tick("production", stats=traffic(1000, 500)) == paused
    resumed = controller.resume("production")
    assert resumed.state == "progressing"
    assert resumed.variants == paused.variants
    clock.advance(60)
    assert controller.tick("production", stats=traffic(1000, 500)).step_index == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("strategy", ["canary", "shadow", "ab"])
def test_rollback_restores_the_previous_stable_state_in_one_call(
    controller: Controller, strategy: str
) -> None:
    stable = controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "production", strategy=strategy)
    back = controller.rollback("production", reason="not convinced")
    assert back.revision == 3
    assert back.variants == stable.variants
    assert back.state == "rolled_back"
