"""Running suites on a real workspace: errors isolated, NaN rejected, everything recorded."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.checks import (
    Check,
    CheckContext,
    CheckParams,
    CheckResult,
    CheckSpec,
    evaluate_gates,
    latest_decision,
    list_results,
    register_check,
    run_checks,
    unregister_check,
)
from conveyor.workspace import Workspace


class AccuracyCheck(Check):
    name = "accuracy_test"
    subject_kind = "model"

    class Params(CheckParams):
        min: float = 0.5

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        accuracy = float(np.mean(ctx.predictions() == ctx.labels.to_numpy()))
        return self.result(
            ctx,
            passed=accuracy >= params["min"],
            value=accuracy,
            threshold=params["min"],
            explanation=f"accuracy {accuracy:.3f}; at least {params['min']} required",
        )


class AgreementCheck(Check):
    name = "agreement_test"
    subject_kind = "model"

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        share = float(np.mean(ctx.predictions("candidate") == ctx.predictions("candidate")))
        return self.result(ctx, passed=True, value=share, threshold=1.0, explanation="same")


class ExplodingCheck(Check):
    name = "exploding_test"
    subject_kind = "model"

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        raise ZeroDivisionError("division by zero in the exploding check")


class WrongReturnCheck(Check):
    name = "wrong_return_test"
    subject_kind = "model"

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        return True  # type: ignore[return-value]


class NanCheck(Check):
    name = "nan_test"
    subject_kind = "model"

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        return self.result(ctx, passed=True, value=math.nan, threshold=0.9, explanation="auc")


class RowsCheck(Check):
    name = "rows_test"
    subject_kind = "dataset"

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        rows = len(ctx.frame)
        return self.result(ctx, passed=rows > 0, value=rows, threshold=1, explanation="rows")


CLASSES = (AccuracyCheck, AgreementCheck, ExplodingCheck, NanCheck, RowsCheck, WrongReturnCheck)


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    for cls in CLASSES:
        register_check(cls)
    yield
    for cls in CLASSES:
        unregister_check(cls.name)


@pytest.fixture
def ws(tmp_path: Path, metadata_url: str) -> Iterator[Workspace]:
    env = {"CONVEYOR_METADATA_URL": metadata_url, "CONVEYOR_ACTOR": "carol"}
    with Workspace.open(tmp_path, env=env, search_parents=False) as opened:
        yield opened


@pytest.fixture
def holdout() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)})


@pytest.fixture
def model_ref(ws: Workspace, holdout: pd.DataFrame) -> str:
    features = holdout[["a", "b"]]
    fitted = LogisticRegression().fit(features, holdout["y"])
    version = ws.models.register("churn", fitted, input_example=features.head(3), onnx=False)
    return version.ref


def test_raising_check_is_an_error_result_and_the_others_still_run(
    ws: Workspace, holdout: pd.DataFrame, model_ref: str
) -> None:
    specs = [CheckSpec("exploding_test"), CheckSpec("accuracy_test", {"min": 0.8})]
    with CheckContext(ws, candidate=model_ref, holdout=holdout, target="y") as ctx:
        suite = run_checks(ctx, specs)
    exploded, accuracy = suite.results
    assert exploded.status == "error"
    assert not exploded.passed
    assert "division by zero in the exploding check" in exploded.explanation
    assert "ZeroDivisionError" in exploded.details["traceback"]
    assert accuracy.status == "passed"
    assert accuracy.value > 0.9


def test_a_check_returning_something_else_is_an_error_result_saying_what_to_return(
    ws: Workspace, holdout: pd.DataFrame, model_ref: str
) -> None:
    with CheckContext(ws, candidate=model_ref, holdout=holdout, target="y") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("wrong_return_test")]).results
    assert result.status == "error"
    assert "returned bool, not a CheckResult" in result.explanation
    assert "self.result(ctx" in result.details["hint"]


def test_nan_value_fails_and_says_why(ws: Workspace, holdout: pd.DataFrame, model_ref: str) -> None:
    with CheckContext(ws, candidate=model_ref, holdout=holdout, target="y") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("nan_test")]).results
    assert result.status == "failed"
    assert not result.passed
    assert "NaN" in result.explanation


def test_predictions_are_computed_once_per_model_per_suite(
    ws: Workspace, holdout: pd.DataFrame, model_ref: str
) -> None:
    specs = [CheckSpec("accuracy_test"), CheckSpec("agreement_test"), CheckSpec("accuracy_test")]
    with CheckContext(ws, candidate=model_ref, holdout=holdout, target="y") as ctx:
        run_checks(ctx, specs, record=False)
        assert ctx.prediction_calls == {"candidate": 1, "champion": 0}


def test_empty_holdout_is_an_error_result_saying_so(ws: Workspace, model_ref: str) -> None:
    empty = pd.DataFrame({"a": [], "b": [], "y": []})
    with CheckContext(ws, candidate=model_ref, holdout=empty, target="y") as ctx:
        (result,) = run_checks(ctx, [CheckSpec("accuracy_test")], record=False).results
    assert result.status == "error"
    assert "holdout frame is empty" in result.explanation


def test_results_are_stored_per_subject_in_one_audited_transaction(
    ws: Workspace, holdout: pd.DataFrame, model_ref: str
) -> None:
    ws.datasets.add("orders", holdout)
    with CheckContext(ws, candidate=model_ref, holdout=holdout, target="y") as ctx:
        suite = run_checks(ctx, [CheckSpec("accuracy_test"), CheckSpec("exploding_test")])
    with CheckContext(ws, dataset="orders") as ctx:
        data_suite = run_checks(ctx, [CheckSpec("rows_test", severity="warning")])

    stored = list_results(ws, "model", model_ref)
    assert [(r.result.name, r.result.status) for r in stored] == [
        ("accuracy_test", "passed"),
        ("exploding_test", "error"),
    ]
    assert {r.suite_id for r in stored} == {suite.suite_id}
    assert stored[0].actor == "carol"
    assert stored[0].result.value == suite.results[0].value
    (rows,) = list_results(ws, "dataset", "orders@1")
    assert rows.result.value == 200
    assert rows.result.severity == "warning"
    assert rows.suite_id == data_suite.suite_id
    events = ws.audit_log(action="checks.record")
    assert [e.target for e in events] == [f"model:{model_ref}", "dataset:orders@1"]
    assert events[0].details["error"] == 1
    assert ws.verify_audit().ok


def test_gate_decision_is_recorded_audited_and_queryable(
    ws: Workspace, holdout: pd.DataFrame, model_ref: str
) -> None:
    assert latest_decision(ws, model_ref) is None
    with CheckContext(ws, candidate=model_ref, holdout=holdout, target="y") as ctx:
        suite = run_checks(ctx, [CheckSpec("accuracy_test", {"min": 0.99}), CheckSpec("nan_test")])
    decision = evaluate_gates(suite, has_champion=False, workspace=ws)
    assert decision.decision == "REJECT"
    stored = latest_decision(ws, model_ref)
    assert stored is not None
    assert stored.decision == "REJECT"
    assert stored.reasons == decision.reasons
    assert stored.actor == "carol"
    assert stored.suite_id == suite.suite_id
    (event,) = ws.audit_log(action="gate.decide")
    assert event.target == f"model:{model_ref}"
    assert event.details["decision"] == "REJECT"
