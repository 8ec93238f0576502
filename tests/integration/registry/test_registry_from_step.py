"""``conveyor.register_model`` in a step records the evaluation metrics of the pipeline run
(logged by another step), each with the step that logged it (real data: diabetes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes

from conveyor.pipelines import load_pipeline
from conveyor.workspace import Workspace

PIPELINE = """
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, r2_score

import conveyor


@conveyor.step
def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cut = int(len(shuffled) * 0.75)
    return shuffled.iloc[:cut].reset_index(drop=True), shuffled.iloc[cut:].reset_index(drop=True)


@conveyor.step
def train(fit: pd.DataFrame) -> Ridge:
    conveyor.log_metric("train_rows", float(len(fit)))
    return Ridge(alpha=0.5).fit(fit.drop(columns=["target"]), fit["target"])


@conveyor.step
def evaluate(model: Ridge, holdout: pd.DataFrame) -> float:
    predicted = model.predict(holdout.drop(columns=["target"]))
    conveyor.log_metric("r2", float(r2_score(holdout["target"], predicted)))
    conveyor.log_metric("mae", float(mean_absolute_error(holdout["target"], predicted)))
    return float(r2_score(holdout["target"], predicted))


@conveyor.step
def publish(model: Ridge, holdout: pd.DataFrame, r2: float) -> int:
    features = holdout.drop(columns=["target"])
    version = conveyor.register_model(
        "progression", model, input_example=features.head(3), explain=False, onnx=False
    )
    return version.version


@conveyor.pipeline
def training(data: str = "diabetes@latest") -> None:
    fit, holdout = split(conveyor.load_dataset(data))
    model = train(fit)
    publish(model, holdout, evaluate(model, holdout))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "diabetes_pipeline.py").write_text(PIPELINE, encoding="utf-8")
    return root


def _run(root: Path, config: str) -> tuple[Workspace, str]:
    (root / "conveyor.yaml").write_text(config, encoding="utf-8")
    ws = Workspace.open(root, env={}, search_parents=False)
    if not ws.datasets.list():
        ws.datasets.add("diabetes", load_diabetes(as_frame=True).frame)
    result = load_pipeline("diabetes_pipeline:training", root).run(ws)
    return ws, result.run_id


@pytest.mark.slow
def test_a_step_registration_records_every_steps_metrics_with_their_step(project: Path) -> None:
    ws, run_id = _run(project, "project: {name: steps}\n")
    with ws:
        version = ws.models.get("progression@1")
        logged = ws.runs.run_tree_metrics(run_id)
    assert set(version.metrics) == {"r2", "mae", "train_rows"}
    assert version.metrics["r2"] == pytest.approx(logged["r2"].value)
    assert 0.2 < version.metrics["r2"] < 0.8  # a real fit, not a placeholder
    assert version.evaluation["metric_sources"] == {
        "r2": "evaluate",
        "mae": "evaluate",
        "train_rows": "train",
    }
    assert version.lineage["datasets"][0]["name"] == "diabetes"


@pytest.mark.slow
def test_metrics_step_limits_the_recorded_metrics_to_that_step(project: Path) -> None:
    ws, _ = _run(project, "project: {name: steps}\nevaluation: {metrics_step: evaluate}\n")
    with ws:
        version = ws.models.get("progression@1")
    assert set(version.metrics) == {"r2", "mae"}
    assert version.evaluation["metrics_step"] == "evaluate"
