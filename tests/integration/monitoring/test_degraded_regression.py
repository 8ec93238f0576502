"""A regression model is monitored by its error, not by accuracy: with no
`monitoring.metric` set, `degraded` compares live rmse with the version's recorded rmse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from conveyor.deployments import DeploymentStore, Variant
from conveyor.monitoring import default_metric, monitor_run
from conveyor.predictions import PredictionRecord
from conveyor.workspace import Workspace

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _project(root: Path) -> tuple[Workspace, Any, pd.DataFrame, pd.Series]:
    root.mkdir(parents=True)
    (root / "conveyor.yaml").write_text(
        "project: {name: regression}\nmonitoring: {min_labels: 100}\n", encoding="utf-8"
    )
    ws = Workspace.open(root, actor="alice", env={}, search_parents=False)
    frame = load_diabetes(as_frame=True).frame
    x, y = frame.drop(columns=["target"]), frame["target"]
    ws.datasets.add("diabetes", frame)
    model = Ridge().fit(x, y)
    rmse = float(np.sqrt(np.mean((model.predict(x) - y) ** 2)))
    version = ws.models.register(
        "progression",
        model,
        input_example=x.head(3),
        metrics={"r2": float(model.score(x, y)), "rmse": rmse},
        training_data="diabetes@1",
        explain=False,
        onnx=False,
    )
    assert default_metric(version) == "rmse"
    DeploymentStore(ws.store, actor=ws.actor).transition(
        "production",
        expected_revision=None,
        action="deploy",
        reason="test",
        strategy="replace",
        state="stable",
        variants=(Variant("progression", version.version, "champion", 100.0),),
    )
    return ws, model, x, y


def _traffic(ws: Workspace, model: Any, x: pd.DataFrame, labels: pd.Series) -> None:
    predicted = model.predict(x)
    start = NOW - timedelta(minutes=30)
    ids = [f"r-{i}" for i in range(len(x))]
    ws.predictions.write(
        [
            PredictionRecord(
                request_id=ids[i],
                at=start + timedelta(seconds=i),
                model="progression",
                version=1,
                inputs={c: float(x[c].iloc[i]) for c in x.columns},
                prediction=float(predicted[i]),
                latency_ms=1.0,
                environment="production",
                variant="champion",
                revision=1,
            )
            for i in range(len(x))
        ]
    )
    ws.predictions.feedback({rid: float(v) for rid, v in zip(ids, labels, strict=True)})


def test_true_outcomes_are_not_degraded(tmp_path: Path) -> None:
    ws, model, x, y = _project(tmp_path / "p")
    with ws:
        _traffic(ws, model, x, y)
        report = monitor_run(ws, "production", window="1h", now=lambda: NOW)
    assert report.performance["metric"] == "rmse"
    assert report.performance["reference"] is not None
    assert report.verdict != "degraded", report.message


def test_outcomes_shifted_by_two_deviations_are_degraded(tmp_path: Path) -> None:
    ws, model, x, y = _project(tmp_path / "p")
    with ws:
        _traffic(ws, model, x, y + 2.0 * float(y.std()))
        report = monitor_run(ws, "production", window="1h", now=lambda: NOW)
    assert report.performance["metric"] == "rmse"
    assert report.verdict == "degraded", report.message
