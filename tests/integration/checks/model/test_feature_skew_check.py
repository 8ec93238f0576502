"""The ``feature_skew`` check in a gate: a model trained with a feature service is promoted
while its online features match the offline ones, rejected once they do not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.linear_model import LinearRegression

from conveyor.checks import CheckContext, CheckSpec, evaluate_gates, get_check, run_checks
from conveyor.errors import ConfigError
from conveyor.features import SERVICE_TAG
from conveyor.workspace import Workspace
from features_support import FEATURES_PY, gapminder, make_project

GATE = [CheckSpec("feature_skew", {"sample": 40, "max_mismatch_rate": 0.0})]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    root = make_project(tmp_path / "p")
    with Workspace.open(root, env={}, search_parents=False) as opened:
        opened.datasets.add("gapminder", gapminder())
        opened.features.apply()
        opened.features.materialize()
        yield opened


def register(ws: Workspace, tags: dict[str, str]) -> str:
    frame = gapminder()
    model = LinearRegression().fit(frame[["pop", "gdpPercap"]], frame["lifeExp"])
    version = ws.models.register(
        "life",
        model,
        input_example=frame[["pop", "gdpPercap"]].head(5),
        explain=False,
        onnx=False,
        tags=tags,
    )
    return version.ref


def test_the_gate_promotes_then_rejects_when_a_view_changes_unmaterialized(
    ws: Workspace,
) -> None:
    ref = register(ws, {SERVICE_TAG: "life@1"})
    with CheckContext(ws, candidate=ref) as ctx:
        suite = run_checks(ctx, GATE)
    (result,) = suite.results
    assert result.status == "passed", result.explanation
    assert result.value == {"worst_rate": 0.0, "sampled": 80}  # two views, 40 keys each
    assert [v["view"] for v in result.details["views"]] == ["country_stats", "country_gdp"]
    assert evaluate_gates(suite, GATE, has_champion=False).decision == "PROMOTE"

    (ws.root / "features.py").write_text(FEATURES_PY.replace("/ 1e9", "/ 1e6"), encoding="utf-8")
    ws.features.apply()
    with CheckContext(ws, candidate=ref) as ctx:
        suite = run_checks(ctx, GATE)
    (result,) = suite.results
    assert result.status == "failed"
    assert result.value == {"worst_rate": 1.0, "sampled": 80}
    assert "Feature service life@1" in result.explanation
    assert "gdp_billions 40/40 (100.0%)" in result.explanation
    decision = evaluate_gates(suite, GATE, has_champion=False)
    assert decision.decision == "REJECT"
    assert any("feature_skew" in reason for reason in decision.reasons)

    ws.features.materialize(views=["country_gdp"])
    with CheckContext(ws, candidate=ref) as ctx:
        (result,) = run_checks(ctx, GATE, record=False).results
    assert result.status == "passed", result.explanation


def test_a_model_without_a_feature_service_is_skipped(ws: Workspace) -> None:
    ref = register(ws, {})
    with CheckContext(ws, candidate=ref) as ctx:
        suite = run_checks(ctx, GATE, record=False)
    (result,) = suite.results
    assert result.status == "skipped"
    assert f"Model version {ref} was not trained with a feature service" in result.explanation
    assert evaluate_gates(suite, GATE, has_champion=False).decision == "PROMOTE"


def test_a_tag_naming_an_unknown_service_is_an_error_result(ws: Workspace) -> None:
    ref = register(ws, {SERVICE_TAG: "churn@3"})
    with CheckContext(ws, candidate=ref) as ctx:
        (result,) = run_checks(ctx, GATE, record=False).results
    assert result.status == "error"
    assert "'churn@3'" in result.explanation
    assert "life" in result.explanation


@pytest.mark.parametrize(
    ("params", "needle"),
    [({"sample": 0}, "sample"), ({"max_mismatch_rate": 1.5}, "max_mismatch_rate")],
)
def test_bad_params_name_the_param(params: dict[str, float], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as caught:
        get_check("feature_skew").validate_params(params)
    assert "feature_skew" in str(caught.value)
