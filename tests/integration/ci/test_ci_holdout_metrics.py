"""A pipeline that logs no metrics still gets the gate's holdout metric on its version."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.ci import check_subject, run_ci
from conveyor.ci._outputs import run_output
from conveyor.pipelines import load_pipeline
from conveyor.workspace import Workspace


@pytest.mark.slow
def test_the_min_metric_holdout_value_is_recorded_when_nothing_was_logged(
    ws: Workspace, tmp_path: Path
) -> None:
    result = run_ci(ws, report_dir=tmp_path / "r", integration=False)
    gate = next(r for r in result.suite.results if r.name == "min_metric")
    version = ws.models.get(result.model_version.ref)
    assert ws.runs.run_tree_metrics(result.run_id) == {}  # the pipeline logged nothing
    assert version.metrics == {"accuracy": pytest.approx(gate.value)}
    assert version.evaluation["metric_sources"] == {"accuracy": "holdout"}
    assert version.evaluation["holdout_rows"] == 90
    assert "| accuracy |" in ws.models.card(version.ref).markdown
    assert "| holdout |" in ws.models.card(version.ref).markdown


def test_checking_a_model_records_the_decision_on_its_version(ws: Workspace) -> None:
    run = load_pipeline("pipelines:training", ws.root).run(ws)
    example = run_output(ws, run.run_id, "split", 1).drop(columns=["y"]).head(3)
    version = ws.models.register("clf", run.output("train"), input_example=example, run=run.run_id)
    assert version.evaluation == {}
    outcome = check_subject(ws, model=version.ref)
    recorded = ws.models.get(version.ref).evaluation
    assert recorded["decision"]["verdict"] == outcome.decision.decision == "PROMOTE"
    assert recorded["checks"]["min_metric"] == "passed"
    assert ws.models.get(version.ref).metrics["accuracy"] > 0.8


@pytest.mark.slow
def test_a_retried_ci_job_with_its_key_gates_the_version_it_registered(
    ws: Workspace, tmp_path: Path
) -> None:
    first = run_ci(ws, report_dir=tmp_path / "a", integration=False, idempotency_key="job-12")
    retry = run_ci(ws, report_dir=tmp_path / "b", integration=False, idempotency_key="job-12")
    other = run_ci(ws, report_dir=tmp_path / "c", integration=False, idempotency_key="job-13")
    assert retry.model_version.ref == first.model_version.ref == "clf@1"
    assert other.model_version.ref == "clf@2"
    assert [v.version for v in ws.models.versions("clf")] == [2, 1]
