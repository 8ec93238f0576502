"""The rubric's facts are read from a workspace's check records and run tracker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.checks import CheckResult, GateDecision, Subject, SuiteResult, check_records
from conveyor.ci import gather_facts
from conveyor.workspace import Workspace, init_project

MODEL = Subject("model", "churn@1")


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[Workspace]:
    root = tmp_path / "proj"
    init_project(root, name="facts")
    with Workspace.open(root) as ws:
        yield ws


def _suite(suite_id: str, *results: CheckResult) -> SuiteResult:
    return SuiteResult(suite_id=suite_id, subject=MODEL, results=results)


def _result(name: str, status: str, explanation: str = "") -> CheckResult:
    return CheckResult(
        name=name,
        subject=MODEL,
        passed=status == "passed",
        status=status,  # type: ignore[arg-type]
        severity="error",
        explanation=explanation,
    )


def test_a_new_project_has_no_recorded_facts(bare: Workspace) -> None:
    facts = gather_facts(bare)
    assert (facts.latest, facts.skipped) == ({}, {})
    assert (facts.has_schema, facts.decided, facts.tuned) == (False, False, False)


def test_the_latest_result_of_each_check_counts(bare: Workspace) -> None:
    records = check_records(bare)
    records.record_suite(bare.actor, _suite("s1", _result("slices", "failed")))
    records.record_suite(
        bare.actor,
        _suite("s2", _result("slices", "passed"), _result("fairness", "skipped", "no column")),
    )
    facts = gather_facts(bare)
    assert facts.latest == {"fairness": False, "slices": True}
    assert facts.skipped == {"fairness": "no column"}


def test_schemas_decisions_and_tuning_studies_are_seen(bare: Workspace) -> None:
    records = check_records(bare)
    records.add_schema(bare.actor, "orders", 1, {"columns": {}})
    records.record_decision(bare.actor, GateDecision("PROMOTE", ("all passed",), MODEL, None, "s1"))
    study = bare.runs.start_run("study", kind="tune", capture=False)
    bare.runs.finish_run(study.id, "completed")
    facts = gather_facts(bare)
    assert (facts.has_schema, facts.decided, facts.tuned) == (True, True, True)


def test_runs_of_other_kinds_are_not_tuning_studies(bare: Workspace) -> None:
    run = bare.runs.start_run("train", kind="pipeline", capture=False)
    bare.runs.finish_run(run.id, "completed")
    assert not gather_facts(bare).tuned
