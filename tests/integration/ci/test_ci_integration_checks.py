"""The integration checks on real runs, models and an in-process prediction server."""

from __future__ import annotations

import numpy as np
import pandas as pd
from ci_support import points
from sklearn.linear_model import LogisticRegression

from conveyor.checks import CheckContext, CheckSpec, get_check, run_checks
from conveyor.ci import PipelineSampleCheck, ServingRoundtripCheck, SignatureServingCheck
from conveyor.ci._sample import run_on_sample
from conveyor.pipelines import load_pipeline
from conveyor.workspace import Workspace


def _registered(ws: Workspace) -> tuple[str, pd.DataFrame]:
    frame = points(120)
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    version = ws.models.register("clf", model, input_example=frame[["a", "b"]].head(5))
    return version.ref, frame


def test_registry_resolves_the_integration_checks_to_this_package() -> None:
    assert get_check("pipeline_sample") is PipelineSampleCheck
    assert get_check("signature_serving") is SignatureServingCheck
    assert get_check("serving_roundtrip") is ServingRoundtripCheck


def test_pipeline_runs_on_a_sample_without_touching_the_project(ws: Workspace) -> None:
    run = load_pipeline("pipelines:training", ws.root).run(ws)
    runs_before = len(ws.runs.list())
    with CheckContext(ws, run_id=run.run_id) as ctx:
        suite = run_checks(ctx, [CheckSpec("pipeline_sample", {"rows": 60})], record=False)
    (result,) = suite.results
    assert result.status == "passed", result.explanation
    assert "points (60 rows)" in result.explanation
    assert result.details["steps"] == {
        "load_dataset": "completed",
        "split": "completed",
        "train": "completed",
    }
    assert len(ws.runs.list()) == runs_before
    assert [v.version for v in ws.datasets.log("points")] == [1]


def test_pipeline_failing_on_the_sample_names_the_step_and_error(ws: Workspace) -> None:
    run = load_pipeline("pipelines:training", ws.root).run(ws)
    spec = CheckSpec("pipeline_sample", {"rows": 50, "params": {"min_rows": 100}})
    with CheckContext(ws, run_id=run.run_id) as ctx:
        (result,) = run_checks(ctx, [spec], record=False).results
    assert result.status == "failed"
    assert "step(s) split failed" in result.explanation
    assert "need at least 100 rows, got 50" in result.explanation


def test_sample_run_is_skipped_when_the_environment_points_at_a_shared_store(
    ws: Workspace,
) -> None:
    outcome = run_on_sample(
        ws, "pipelines:training", {"points": 1}, env={"CONVEYOR_METADATA_URL": "postgresql://x"}
    )
    assert outcome.status == "skipped"
    assert "CONVEYOR_METADATA_URL" in (outcome.error or "")


def test_signature_matching_the_serving_columns_passes(ws: Workspace) -> None:
    ref, frame = _registered(ws)
    with CheckContext(ws, candidate=ref, holdout=frame, target="y") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("signature_serving")], record=False).results
    assert result.status == "passed", result.explanation
    assert "All 2 serving columns match" in result.explanation


def test_serving_column_missing_from_the_signature_fails_naming_it(ws: Workspace) -> None:
    ref, frame = _registered(ws)
    frame = frame.assign(extra=1.0).drop(columns=["b"])
    with CheckContext(ws, candidate=ref, holdout=frame, target="y") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("signature_serving")], record=False).results
    assert result.status == "failed"
    assert "missing from the serving input: b" in result.explanation
    assert "not in the signature: extra" in result.explanation
    assert result.details["missing"] == ["b"]


def test_served_answers_equal_direct_predictions(ws: Workspace) -> None:
    ref, frame = _registered(ws)
    spec = CheckSpec("serving_roundtrip", {"rows": 40})
    with CheckContext(ws, candidate=ref, holdout=frame, target="y") as ctx:
        (result,) = run_checks(ctx, [spec], record=False).results
    assert result.status == "passed", result.explanation
    assert result.value == 0
    assert result.details["rows"] == 40


def test_server_refusing_the_holdout_fails_with_its_error(ws: Workspace) -> None:
    ref, frame = _registered(ws)
    frame.loc[0, "a"] = np.nan  # the server rejects non-finite inputs by default
    with CheckContext(ws, candidate=ref, holdout=frame, target="y") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("serving_roundtrip")], record=False).results
    assert result.status == "failed"
    assert "did not answer" in result.explanation
    assert result.details["status_code"] == 422


def test_empty_holdout_is_an_error_result_and_other_checks_still_run(ws: Workspace) -> None:
    ref, frame = _registered(ws)
    specs = [CheckSpec("serving_roundtrip"), CheckSpec("signature_serving")]
    with CheckContext(ws, candidate=ref, holdout=frame.iloc[:0], target="y") as ctx:
        results = run_checks(ctx, specs, record=False).results
    assert [r.status for r in results] == ["error", "error"]
    assert "holdout frame is empty" in results[0].explanation
