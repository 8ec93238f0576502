"""The ML Test Score rubric: 28 points, section sums, the minimum, and a hint per gap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conveyor.ci import INTEGRATION_CHECKS, RUBRIC, SECTIONS, ProjectFacts, score_facts

_GATES = {
    "schema",
    "feature_importance",
    "artifact_size",
    "label_leakage",
    "anomalies",
    "champion_comparison",
    "slices",
    "fairness",
    "loss_decreases",
    "min_metric",
    "save_load_parity",
    "robustness",
    "latency",
    *INTEGRATION_CHECKS,
}


def _complete() -> ProjectFacts:
    return ProjectFacts(
        sections=frozenset({"monitoring", "triggers", "environments", "webhooks"}),
        checks=frozenset(_GATES),
        latest=dict.fromkeys(_GATES, True),
        pipeline="pipelines:training",
        has_schema=True,
        decided=True,
        tuned=True,
        pinned=True,
        encrypted=True,
        ci_workflow=".github/workflows/conveyor.yml",
        rollback_ready=True,
    )


def test_rubric_has_28_tests_seven_per_section() -> None:
    assert len(RUBRIC) == 28
    for section in SECTIONS:
        assert sum(1 for s, _, _ in RUBRIC if s == section) == 7


def test_empty_project_scores_zero_with_a_hint_for_every_point() -> None:
    report = score_facts(ProjectFacts())
    assert report.final == 0
    assert set(report.sections.values()) == {0.0}
    assert all(p.score == 0 and p.hint for p in report.points)
    schema = report.points[0]
    assert "schema" in (schema.hint or "")


def test_fully_automated_project_scores_seven_everywhere() -> None:
    report = score_facts(_complete())
    assert report.sections == dict.fromkeys(SECTIONS, 7.0)
    assert report.final == 7.0
    assert all(p.hint is None for p in report.points)


def test_configured_gate_that_last_failed_earns_nothing_and_says_so() -> None:
    facts = _complete()
    failing = ProjectFacts(**{**facts.__dict__, "latest": {**facts.latest, "fairness": False}})
    point = next(p for p in score_facts(failing).points if "inclusion" in p.title)
    assert point.score == 0
    assert "latest `fairness` result failed" in (point.hint or "")


def test_configured_gate_that_never_ran_asks_for_a_ci_run() -> None:
    facts = ProjectFacts(checks=frozenset({"slices"}))
    point = next(p for p in score_facts(facts).points if "slices" in p.title)
    assert "never run" in (point.hint or "")


def test_missing_monitoring_section_is_named_in_the_hint() -> None:
    report = score_facts(ProjectFacts())
    monitoring = [p for p in report.points if p.section == "monitoring"]
    assert any("monitoring:" in (p.hint or "") for p in monitoring)
    assert any("triggers:" in (p.hint or "") for p in monitoring)


@given(
    checks=st.sets(st.sampled_from(sorted(_GATES))),
    passed=st.booleans(),
    flags=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_final_score_is_the_minimum_of_section_sums(
    checks: set[str], passed: bool, flags: list[bool]
) -> None:
    facts = ProjectFacts(
        checks=frozenset(checks),
        latest=dict.fromkeys(checks, passed),
        has_schema=flags[0],
        decided=flags[1],
        tuned=flags[2],
        pinned=flags[3],
        encrypted=flags[4],
        pipeline="p:q" if flags[5] else None,
    )
    report = score_facts(facts)
    for section in SECTIONS:
        points = [p.score for p in report.points if p.section == section]
        assert report.sections[section] == sum(points)
        assert all(score in (0.0, 1.0) for score in points)
    assert report.final == min(report.sections.values())
    assert all((p.score == 1.0) == (p.hint is None) for p in report.points)
    assert report.to_dict()["final"] == report.final
