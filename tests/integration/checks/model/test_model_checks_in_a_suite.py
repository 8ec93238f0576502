"""The built-in model checks run through the suite runner against real registered models."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from conveyor.checks import (
    CheckContext,
    CheckSpec,
    evaluate_gates,
    get_check,
    list_results,
    run_checks,
)
from conveyor.errors import ConfigError
from conveyor.workspace import Workspace

Frames = tuple[pd.DataFrame, pd.DataFrame]
Register = Callable[..., str]


def context(ws: Workspace, holdout: pd.DataFrame, **kwargs: object) -> CheckContext:
    return CheckContext(ws, holdout=holdout, target="target", **kwargs)  # type: ignore[arg-type]


def by_name(results: tuple) -> dict:
    return {r.name: r for r in results}


def test_good_candidate_beats_a_shuffled_label_champion_and_not_the_reverse(
    ws: Workspace,
    register: Register,
    frames: Frames,
    good_model: Pipeline,
    shuffled_model: Pipeline,
) -> None:
    holdout = frames[1]
    bad = register(shuffled_model)
    good = register(good_model)
    specs = [
        CheckSpec("champion_comparison", {"metric": "roc_auc", "n_boot": 300}),
        CheckSpec("min_metric", {"metric": "roc_auc", "min": 0.9}),
        CheckSpec("calibration", {"max_ece": 0.2}),
        CheckSpec("slices", {"columns": ["site"], "metric": "accuracy", "min": 0.8}),
    ]
    with context(ws, holdout, candidate=good, champion=bad) as ctx:
        suite = run_checks(ctx, specs)
        # Four checks read the candidate's predictions; the model predicted once.
        assert ctx.prediction_calls == {"candidate": 1, "champion": 1}
    results = by_name(suite.results)
    assert [r.status for r in suite.results] == ["passed"] * 4, [
        r.explanation for r in suite.results
    ]
    comparison = results["champion_comparison"]
    assert comparison.value["ci_low"] > 0.2
    assert f"vs {bad}" in comparison.explanation
    assert "95% paired-bootstrap CI" in comparison.explanation
    stored = list_results(ws, "model", good)
    assert {r.result.name for r in stored} == {c.check for c in specs}

    with context(ws, holdout, candidate=bad, champion=good) as ctx:
        reverse = run_checks(ctx, specs[:2])
    assert [r.status for r in reverse.results] == ["failed", "failed"]
    decision = evaluate_gates(reverse, specs[:2], has_champion=True)
    assert decision.decision == "REJECT"


def test_equal_models_pass_non_inferiority_within_the_margin(
    ws: Workspace, register: Register, frames: Frames, good_model: Pipeline
) -> None:
    first = register(good_model)
    second = register(good_model)
    spec = CheckSpec(
        "champion_comparison",
        {"metric": "accuracy", "mode": "non_inferiority", "margin": 0.01, "n_boot": 200},
    )
    with context(ws, frames[1], candidate=second, champion=first) as ctx:
        (result,) = run_checks(ctx, [spec], record=False).results
    assert result.status == "passed"
    assert result.value["delta"] == 0.0
    assert result.threshold == -0.01


def test_first_model_skips_the_comparison(
    ws: Workspace, register: Register, frames: Frames, good_model: Pipeline
) -> None:
    ref = register(good_model)
    with context(ws, frames[1], candidate=ref) as ctx:
        (result,) = run_checks(ctx, [CheckSpec("champion_comparison")], record=False).results
    assert result.status == "skipped"
    assert "No champion yet" in result.explanation


def _corrupt_model_file(ws: Workspace, ref: str) -> None:
    manifest = ws.models.manifest(ref)
    digest = next(iter(manifest["files"].values()))["hash"]
    (path,) = [p for p in Path(ws.root).rglob(digest[2:]) if p.parent.name == digest[:2]]
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(path.read_bytes() + b"tampered")


def test_a_champion_failing_its_integrity_check_rejects_with_that_reason(
    ws: Workspace,
    register: Register,
    frames: Frames,
    good_model: Pipeline,
    shuffled_model: Pipeline,
) -> None:
    champion = register(shuffled_model)
    candidate = register(good_model)
    ws.models.set_alias("cancer", 1, "champion")
    _corrupt_model_file(ws, champion)
    specs = [
        CheckSpec("champion_comparison", {"n_boot": 50}),
        CheckSpec("min_metric", {"metric": "roc_auc", "min": 0.9}),
    ]
    with context(ws, frames[1], candidate=candidate, champion="cancer@champion") as ctx:
        suite = run_checks(ctx, specs)
    comparison, absolute = suite.results
    assert absolute.status == "passed"  # the other checks still ran
    assert comparison.status == "failed"
    assert "integrity check" in comparison.explanation
    assert "cancer@1" in comparison.explanation
    decision = evaluate_gates(suite, specs, has_champion=True, workspace=ws)
    assert decision.decision == "REJECT"
    assert any("integrity check" in reason for reason in decision.reasons)


def test_empty_holdout_is_an_error_result_with_a_clear_message(
    ws: Workspace, register: Register, frames: Frames, good_model: Pipeline
) -> None:
    ref = register(good_model)
    specs = [CheckSpec("min_metric", {"metric": "accuracy", "min": 0.5}), CheckSpec("latency")]
    with context(ws, frames[1].iloc[:0], candidate=ref) as ctx:
        suite = run_checks(ctx, specs, record=False)
    for result in suite.results:
        assert result.status == "error"
        assert "empty (0 rows)" in result.explanation


def test_missing_slice_or_sensitive_column_is_an_error_naming_it_and_listing_columns(
    ws: Workspace, register: Register, frames: Frames, good_model: Pipeline
) -> None:
    ref = register(good_model)
    specs = [CheckSpec("slices", {"min": 0.5}), CheckSpec("fairness")]
    with context(ws, frames[1], candidate=ref, slices=["region"], sensitive=["sex"]) as ctx:
        slices, fairness = run_checks(ctx, specs, record=False).results
    assert slices.status == "error"
    assert "'region'" in slices.explanation
    assert "mean radius" in slices.explanation  # the existing columns are listed
    assert fairness.status == "error"
    assert "'sex'" in fairness.explanation


def test_fairness_over_a_declared_attribute(
    ws: Workspace, register: Register, frames: Frames, good_model: Pipeline
) -> None:
    ref = register(good_model)
    spec = CheckSpec("fairness", {"max_demographic_parity": 0.5, "max_equal_opportunity": 0.5})
    with context(ws, frames[1], candidate=ref, sensitive=["site"]) as ctx:
        (result,) = run_checks(ctx, [spec], record=False).results
    assert result.status == "passed", result.explanation
    assert set(result.details["attributes"]["site"]["positive_rate"]) == {"0", "1", "2"}


def test_nan_recorded_metric_fails_saying_nan(
    ws: Workspace, register: Register, frames: Frames, good_model: Pipeline
) -> None:
    ref = register(good_model, metrics={"val_auc": math.nan, "train_auc": 0.99})
    specs = [
        CheckSpec("min_metric", {"metric": "val_auc", "min": 0.8, "source": "recorded"}),
        CheckSpec("overfitting", {"train_metric": "train_auc", "validation_metric": "val_auc"}),
        CheckSpec("min_metric", {"metric": "test_auc", "min": 0.8, "source": "recorded"}),
    ]
    with context(ws, frames[1], candidate=ref) as ctx:
        nan_min, nan_gap, missing = run_checks(ctx, specs, record=False).results
    assert (nan_min.status, nan_gap.status, missing.status) == ("failed", "failed", "failed")
    assert "NaN" in nan_min.explanation
    assert "NaN" in nan_gap.explanation
    assert "'test_auc' is missing" in missing.explanation


def test_loss_decreases_reads_the_logged_series_of_the_run(ws: Workspace) -> None:
    down = ws.runs.start_run("train", kind="pipeline", capture=False)
    up = ws.runs.start_run("train", kind="pipeline", capture=False)
    for step, value in enumerate([1.0, 0.6, 0.4, 0.3]):
        ws.runs.log_metric(down.id, "loss", value, step=step)
        ws.runs.log_metric(up.id, "loss", 1.0 - value, step=step)
    spec = [CheckSpec("loss_decreases")]
    with CheckContext(ws, run_id=down.id) as ctx:
        (good,) = run_checks(ctx, spec).results
    with CheckContext(ws, run_id=up.id) as ctx:
        (bad,) = run_checks(ctx, spec).results
    assert good.status == "passed"
    assert good.subject.ref == down.id
    assert bad.status == "failed"
    assert "did not decrease" in bad.explanation
    assert [r.result.name for r in list_results(ws, "run", up.id)] == ["loss_decreases"]


def test_behaviour_checks_on_a_registered_model(
    ws: Workspace, register: Register, frames: Frames, good_model: Pipeline
) -> None:
    ref = register(good_model)
    specs = [
        CheckSpec("robustness"),
        CheckSpec("robustness", {"missing": False}),
        CheckSpec("invariance", {"columns": ["mean texture"]}),
        CheckSpec("latency", {"budget_ms": 60_000, "n": 10}),
        CheckSpec("latency", {"budget_ms": 0, "n": 10}),
        CheckSpec("artifact_size", {"max_bytes": 10_000_000}),
        CheckSpec("artifact_size", {"max_bytes": 10}),
        CheckSpec("save_load_parity"),
    ]
    with context(ws, frames[1], candidate=ref, candidate_object=good_model) as ctx:
        results = run_checks(ctx, specs, record=False).results
    statuses = [r.status for r in results]
    assert statuses == [
        "failed",  # LogisticRegression cannot take NaN: said, not crashed
        "passed",
        "failed",  # the model uses the feature
        "passed",
        "failed",
        "passed",
        "failed",
        "passed",
    ], [r.explanation for r in results]
    assert "cannot take missing values" in results[0].explanation
    with context(ws, frames[1], candidate=ref) as ctx:
        (skipped,) = run_checks(ctx, [CheckSpec("save_load_parity")], record=False).results
    assert skipped.status == "skipped"


def test_save_load_parity_fails_for_a_different_in_memory_model(
    ws: Workspace,
    register: Register,
    frames: Frames,
    good_model: Pipeline,
    shuffled_model: Pipeline,
) -> None:
    ref = register(good_model)
    with context(ws, frames[1], candidate=ref, candidate_object=shuffled_model) as ctx:
        (result,) = run_checks(ctx, [CheckSpec("save_load_parity")], record=False).results
    assert result.status == "failed"
    assert result.value < 1.0


@pytest.mark.parametrize(
    ("check", "params", "match"),
    [
        ("min_metric", {"metric": "roc_auc"}, "give min, max or both"),
        ("min_metric", {"metric": "roc_auc", "min": "high"}, "min"),
        ("champion_comparison", {"mode": "better"}, "mode"),
        ("calibration", {"n_bins": 1}, "n_bins"),
        ("latency", {"budget": 5}, "budget"),
    ],
)
def test_bad_params_are_config_errors_naming_the_check(
    check: str, params: dict, match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        get_check(check).validate_params(params)
    assert check in str(info.value)


def test_every_model_check_name_resolves_to_its_class() -> None:
    names = [
        "loss_decreases", "overfitting", "min_metric", "champion_comparison", "slices",
        "fairness", "robustness", "invariance", "calibration", "latency", "artifact_size",
        "save_load_parity",
    ]  # fmt: skip
    for name in names:
        cls = get_check(name)
        assert cls.name == name
        assert cls.subject_kind == "model"
    assert np.isfinite(0.0)
