"""Each environment moves its own alias; ``champion`` follows ``evaluation.champion_env``."""

from __future__ import annotations

from pathlib import Path

from deploy_support import CONFIG, Clock, ScriptedAnalyzer

from conveyor.ci import champion_of
from conveyor.rollout import Controller
from conveyor.workspace import Workspace


def _aliases(ws: Workspace) -> dict[str, int]:
    return next(s.aliases for s in ws.models.list() if s.name == "churn")


def test_a_forced_staging_deploy_moves_staging_only(controller: Controller, ws: Workspace) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "staging", force_reason="try it in staging")
    assert _aliases(ws) == {"champion": 1, "production": 1, "staging": 2}
    assert ws.models.get("churn@production").version == 1
    assert ws.models.get("churn@staging").version == 2
    assert ws.models.get("churn@champion").version == 1
    # The gate compares the next candidate with what production serves.
    assert champion_of(ws, "churn", 3) == "churn@1"


def test_a_rollback_in_staging_leaves_production_alone(
    controller: Controller, ws: Workspace
) -> None:
    controller.deploy("churn@3", "production")
    controller.deploy("churn@1", "staging")
    controller.deploy("churn@2", "staging")
    assert _aliases(ws) == {"champion": 3, "production": 3, "staging": 2}
    controller.rollback("staging", reason="staging misbehaves")
    assert _aliases(ws) == {"champion": 3, "production": 3, "staging": 1}


def test_history_names_the_environment_that_moved_each_alias(
    controller: Controller, ws: Workspace
) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "staging")
    moves = {(e.alias, e.version): e.reason for e in ws.models.history("churn") if e.alias}
    assert moves == {
        ("production", 1): "environment 'production' serves it at 100%",
        ("champion", 1): "environment 'production' serves it at 100%",
        ("staging", 2): "environment 'staging' serves it at 100%",
    }
    audit = [e for e in ws.audit_log() if e.action == "model.alias.set"]
    assert [e.details["alias"] for e in audit] == [["production", "champion"], "staging"]


def test_champion_follows_the_configured_environment(
    ws: Workspace, clock: Clock, analyzer: ScriptedAnalyzer
) -> None:
    root = Path(ws.root)
    (root / "conveyor.yaml").write_text(
        CONFIG + "evaluation: {champion_env: staging}\n", encoding="utf-8"
    )
    with Workspace.open(root, actor="alice", env={}, search_parents=False) as staged:
        controller = Controller(staged, clock=clock, analyzer=analyzer)
        controller.deploy("churn@1", "production")
        controller.deploy("churn@2", "staging")
        assert _aliases(staged) == {"champion": 2, "production": 1, "staging": 2}
        assert champion_of(staged, "churn", 3) == "churn@2"


def test_during_a_canary_the_champion_is_the_version_serving_before(
    controller: Controller, clock: Clock, analyzer: ScriptedAnalyzer, ws: Workspace
) -> None:
    controller.deploy("churn@1", "production")
    controller.deploy("churn@2", "production")  # canary: 90 % / 10 %
    assert champion_of(ws, "churn", 3) == "churn@1"
    assert champion_of(ws, "churn", 2) == "churn@1"
    analyzer.verdict = "pass"
    controller.promote("production", reason="looks good")
    assert _aliases(ws) == {"champion": 2, "production": 2}
    assert champion_of(ws, "churn", 3) == "churn@2"


def test_no_deployment_and_no_alias_means_no_champion(ws: Workspace) -> None:
    assert champion_of(ws, "churn", 2) is None
    ws.models.set_alias("churn", 1, "champion", reason="set by hand")
    assert champion_of(ws, "churn", 2) == "churn@1"
    assert champion_of(ws, "churn", 1) is None


def test_a_candidate_is_never_its_own_champion(controller: Controller, ws: Workspace) -> None:
    controller.deploy("churn@1", "production")
    assert champion_of(ws, "churn", 1) is None
