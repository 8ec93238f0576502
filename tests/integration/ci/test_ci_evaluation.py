"""``conveyor ci`` on real data (breast cancer): metrics on the version, configuration
checked before training, and the champion taken from the environment gates compare with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer

from conveyor.ci import EXIT_PROMOTE, run_ci
from conveyor.errors import ConfigError
from conveyor.rollout import Controller
from conveyor.workspace import Workspace, init_project

PIPELINES = """
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import conveyor


@conveyor.step
def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    cut = int(len(shuffled) * 0.7)
    return shuffled.iloc[:cut].reset_index(drop=True), shuffled.iloc[cut:].reset_index(drop=True)


@conveyor.step
def train(fit: pd.DataFrame):
    model = make_pipeline(StandardScaler(), LogisticRegression())
    return model.fit(fit.drop(columns=["target"]), fit["target"])


@conveyor.step
def evaluate(model, holdout: pd.DataFrame) -> float:
    accuracy = accuracy_score(holdout["target"], model.predict(holdout.drop(columns=["target"])))
    conveyor.log_metric("accuracy", float(accuracy))
    return float(accuracy)


@conveyor.pipeline
def training(data: str = "cancer@latest") -> None:
    df = conveyor.load_dataset(data)
    fit, holdout = split(df)
    model = train(fit)
    evaluate(model, holdout)
"""

CONFIG = """
project: {name: evaluation-test}
pipelines: {training: "cancer_pipelines:training"}
evaluation:
  model: cancer
  model_step: train
  holdout_step: split
  holdout_output: 1
  target: target
EXTRA
environments:
  production: {strategy: replace}
  staging: {strategy: replace}
gates:
  - {check: min_metric, params: {metric: accuracy, min: 0.8}}
"""


def _cancer() -> object:
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    keep = ["mean_radius", "mean_texture", "mean_smoothness", "worst_area", "worst_concavity"]
    return frame[[*keep, "target"]]


def _configure(root: Path, extra: str = "") -> None:
    (root / "conveyor.yaml").write_text(CONFIG.replace("EXTRA", extra), encoding="utf-8")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluation") / "proj"
    init_project(root, name="evaluation-test")
    (root / "cancer_pipelines.py").write_text(PIPELINES, encoding="utf-8")
    _configure(root)
    with Workspace.open(root, env={}, search_parents=False) as ws:
        ws.datasets.add("cancer", _cancer())
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(template, root)
    return root


def _open(root: Path) -> Workspace:
    return Workspace.open(root, env={}, search_parents=False)


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    with _open(project) as workspace:
        yield workspace


@pytest.mark.slow
@pytest.mark.parametrize("metrics_step", ["evaluation: {metrics_step: evaluate}", ""])
def test_ci_records_the_evaluation_metrics_holdout_and_decision_on_the_version(
    project: Path, tmp_path: Path, metrics_step: str
) -> None:
    _configure(project, metrics_step.replace("evaluation: {", "  ").rstrip("}"))
    with _open(project) as ws:
        result = run_ci(ws, report_dir=tmp_path / "r", integration=False)
        logged = ws.runs.run_tree_metrics(result.run_id)["accuracy"]
        version = ws.models.get(result.model_version.ref)
        card = ws.models.card(version.ref).markdown
    assert result.exit_code == EXIT_PROMOTE
    assert logged.source == "evaluate"
    assert version.metrics == {"accuracy": pytest.approx(logged.value)}
    assert version.evaluation["metric_sources"] == {"accuracy": "evaluate"}
    assert version.evaluation["metrics_step"] == ("evaluate" if metrics_step else None)
    assert version.evaluation["holdout_rows"] == 171  # 30 % of 569 rows
    decision = version.evaluation["decision"]
    assert decision["verdict"] == "PROMOTE"
    assert decision["champion"] is None
    assert any("no champion" in reason for reason in decision["reasons"])
    assert version.evaluation["checks"]["min_metric"] == "passed"
    assert "| accuracy |" in card
    assert "| evaluate |" in card
    assert "**PROMOTE** against none (absolute checks only)" in card
    assert "No metrics were recorded" not in card


@pytest.mark.slow
def test_metrics_of_a_cached_evaluation_are_recorded_again(ws: Workspace, tmp_path: Path) -> None:
    first = run_ci(ws, report_dir=tmp_path / "a", integration=False)
    second = run_ci(ws, report_dir=tmp_path / "b", integration=False)
    assert {s.status for s in ws.runs.children(second.run_id)} == {"cached"}
    assert second.model_version.metrics == first.model_version.metrics
    assert set(second.model_version.metrics) == {"accuracy"}


def test_a_target_typo_is_a_configuration_error_before_training(
    project: Path, tmp_path: Path
) -> None:
    text = CONFIG.replace("EXTRA", "").replace("target: target", "target: targte")
    (project / "conveyor.yaml").write_text(text, encoding="utf-8")
    with _open(project) as ws:
        with pytest.raises(ConfigError, match=r"'targte'.*Did you mean 'target'\?") as info:
            run_ci(ws, report_dir=tmp_path / "r", integration=False)
        assert ws.runs.list() == []  # nothing was trained
    assert info.value.fields["closest"] == "target"
    assert "evaluation.target" in (info.value.hint or "")


def test_a_slice_column_that_does_not_exist_is_a_configuration_error(
    project: Path, tmp_path: Path
) -> None:
    _configure(project, "  slices: [mean_radius, worst_areas]")
    wrong = r"evaluation\.slices.*'worst_areas'"
    with _open(project) as ws, pytest.raises(ConfigError, match=wrong):
        run_ci(ws, report_dir=tmp_path / "r", integration=False)


def test_require_champion_without_one_is_a_configuration_error(
    project: Path, tmp_path: Path
) -> None:
    _configure(project, "  require_champion: true")
    with _open(project) as ws:
        with pytest.raises(ConfigError, match="require_champion") as info:
            run_ci(ws, report_dir=tmp_path / "r", integration=False)
        assert ws.runs.list() == []
    assert "point `store` at the shared one" in info.value.message


@pytest.mark.slow
def test_require_champion_with_a_production_champion_goes_ahead(
    project: Path, tmp_path: Path
) -> None:
    with _open(project) as ws:
        first = run_ci(ws, report_dir=tmp_path / "a", integration=False)
        Controller(ws).deploy(first.model_version.ref, "production")
    _configure(project, "  require_champion: true")
    with _open(project) as ws:
        second = run_ci(ws, report_dir=tmp_path / "b", integration=False)
    assert second.decision.champion_ref == first.model_version.ref
    assert second.warnings == ()


@pytest.mark.slow
def test_ci_gates_against_production_after_a_forced_staging_deploy(
    ws: Workspace, tmp_path: Path
) -> None:
    controller = Controller(ws)
    v1 = run_ci(ws, report_dir=tmp_path / "1", integration=False).model_version
    controller.deploy(v1.ref, "production")
    v2 = run_ci(ws, report_dir=tmp_path / "2", integration=False).model_version
    controller.deploy(v2.ref, "staging", force_reason="try it")
    third = run_ci(ws, report_dir=tmp_path / "3", integration=False)
    assert ws.models.get("cancer@staging").version == v2.version
    assert ws.models.get("cancer@champion").version == v1.version
    assert third.decision.champion_ref == v1.ref
    recorded = ws.models.get(third.model_version.ref).evaluation["decision"]
    assert recorded["champion"] == v1.ref


def _conveyor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(COLUMNS="250")
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_ci_says_loudly_that_it_had_no_champion_and_score_says_skipped(
    project: Path, tmp_path: Path
) -> None:
    text = CONFIG.replace("EXTRA", "") + (
        "  - {check: champion_comparison, params: {metric: accuracy}}\n"
    )
    (project / "conveyor.yaml").write_text(text, encoding="utf-8")
    done = _conveyor(project, "ci", "--no-integration", "--report-dir", str(tmp_path / "r"))
    assert done.returncode == EXIT_PROMOTE, done.stderr
    assert "WARNING: no champion: no version of 'cancer' serves 'production'" in done.stderr
    assert "point `store` at the shared one" in done.stderr
    assert "point `store` at the shared one" in (tmp_path / "r" / "report.md").read_text()
    score = _conveyor(project, "score", "--json")
    assert score.returncode == 0, score.stderr
    hints = [p["hint"] or "" for p in json.loads(score.stdout)["points"]]
    assert any("`champion_comparison` result was skipped, not failed" in h for h in hints)
    assert not any("`champion_comparison` result failed" in h for h in hints)


@pytest.mark.slow
def test_ci_with_a_champion_gives_no_warning(ws: Workspace, tmp_path: Path) -> None:
    first = run_ci(ws, report_dir=tmp_path / "a", integration=False)
    assert first.warnings
    assert "no champion" in first.warnings[0]
    Controller(ws).deploy(first.model_version.ref, "production")
    second = run_ci(ws, report_dir=tmp_path / "b", integration=False)
    assert second.warnings == ()
    assert not any("no champion" in r for r in second.decision.reasons)
