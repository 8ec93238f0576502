"""`degraded` fires on real data when labelled accuracy falls below the version's recorded
metric, does not fire on unshifted traffic, and a version without one says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LogisticRegression

from conveyor.deployments import DeploymentStore, Variant
from conveyor.monitoring import monitor_run
from conveyor.predictions import PredictionRecord
from conveyor.workspace import Workspace

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FEATURES = ("age", "bmi", "bp", "s5")


class Recorder:
    """Collects announced events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def send(self, event: str, payload: dict[str, Any]) -> None:
        self.events.append((event, payload))


def diabetes() -> pd.DataFrame:
    """Diabetes progression above its median as a 0/1 target (442 rows)."""
    frame = load_diabetes(as_frame=True).frame
    out = frame[list(FEATURES)].copy()
    out["high"] = (frame["target"] > frame["target"].median()).astype(int)
    return out


def deploy(
    root: Path, metrics: dict[str, float] | None, extra: str = ""
) -> tuple[Workspace, Any, float]:
    root.mkdir(parents=True)
    (root / "conveyor.yaml").write_text(
        "project: {name: degraded}\nmonitoring: {min_labels: 100, metric: accuracy}\n" + extra,
        encoding="utf-8",
    )
    ws = Workspace.open(root, actor="alice", env={}, search_parents=False)
    data = diabetes()
    dataset = ws.datasets.add("diabetes", data)
    X = data[list(FEATURES)]
    model = LogisticRegression().fit(X, data["high"])
    accuracy = float((model.predict(X) == data["high"]).mean())
    version = ws.models.register(
        "diabetes",
        model,
        input_example=X.head(3),
        metrics=metrics if metrics is not None else {"accuracy": accuracy},
        lineage={"datasets": [{"name": "diabetes", "version": dataset.version}]},
        explain=False,
        onnx=False,
    )
    DeploymentStore(ws.store, actor=ws.actor).transition(
        "production",
        expected_revision=None,
        action="deploy",
        reason="test",
        strategy="replace",
        state="stable",
        variants=(Variant("diabetes", version.version, "champion", 100.0),),
    )
    return ws, model, accuracy


def serve_and_label(ws: Workspace, model: Any, labels: np.ndarray[Any, Any]) -> None:
    """Log the model's real predictions on every row, then the given labels for them."""
    data = diabetes()
    predicted = model.predict(data[list(FEATURES)])
    start = NOW - timedelta(minutes=30)
    ids = [f"r-{i}" for i in range(len(data))]
    ws.predictions.write(
        [
            PredictionRecord(
                request_id=ids[i],
                at=start + timedelta(seconds=i),
                model="diabetes",
                version=1,
                inputs={name: float(data[name].iloc[i]) for name in FEATURES},
                prediction=int(predicted[i]),
                latency_ms=1.0,
                environment="production",
                variant="champion",
                revision=1,
            )
            for i in range(len(data))
        ]
    )
    ws.predictions.feedback({rid: int(label) for rid, label in zip(ids, labels, strict=True)})


def shifted_labels(model: Any) -> np.ndarray[Any, Any]:
    """The concept changed for older patients: their outcome is now the opposite."""
    data = diabetes()
    labels = data["high"].to_numpy().copy()
    older = (data["age"] > data["age"].quantile(0.55)).to_numpy()
    labels[older] = 1 - labels[older]
    return labels


def test_accuracy_down_on_real_labels_is_degraded(tmp_path: Path) -> None:
    ws, model, accuracy = deploy(tmp_path / "p", None)
    with ws:
        assert 0.72 < accuracy < 0.78
        serve_and_label(ws, model, shifted_labels(model))
        recorder = Recorder()
        report = monitor_run(ws, "production", window="1h", notifier=recorder, now=lambda: NOW)
        assert report.labelled_rows == 442
        assert 0.5 < report.performance["value"] < 0.58
        assert report.performance["reference"] == pytest.approx(accuracy)
        assert report.verdict == "degraded"
        assert "below the recorded" in report.message
        assert report.reference["registered_metric"] == pytest.approx(accuracy)
        assert [event for event, _ in recorder.events] == ["monitor.alert"]


def test_the_same_model_on_unshifted_labels_is_not_degraded(tmp_path: Path) -> None:
    ws, model, accuracy = deploy(tmp_path / "p", None)
    with ws:
        serve_and_label(ws, model, diabetes()["high"].to_numpy())
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert report.performance["value"] == pytest.approx(accuracy)
        assert report.performance["degraded"] is False
        assert report.verdict == "ok"


def test_the_evaluation_step_metric_is_the_reference(tmp_path: Path) -> None:
    metrics = {"train.accuracy": 0.99, "evaluate.accuracy": 0.76}
    ws, model, _ = deploy(tmp_path / "p", metrics, "evaluation: {metrics_step: evaluate}\n")
    with ws:
        serve_and_label(ws, model, shifted_labels(model))
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert report.performance["reference"] == 0.76
        assert report.reference["registered_metric_key"] == "evaluate.accuracy"
        assert report.verdict == "degraded"


def test_a_version_without_the_metric_says_so_in_its_verdict(tmp_path: Path) -> None:
    ws, model, _ = deploy(tmp_path / "p", {"f1": 0.7})
    with ws:
        serve_and_label(ws, model, shifted_labels(model))
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert report.performance["reference"] is None
        assert report.verdict != "degraded" or report.performance["concept_drift"]
        assert "diabetes@1 records no accuracy" in report.message
        assert "recorded: f1" in report.message
        markdown = Path(report.files["markdown"]).read_text(encoding="utf-8")
        assert "diabetes@1 records no accuracy" in markdown
        assert "No reference metric: diabetes@1 records no accuracy" in markdown
        page = Path(report.files["html"]).read_text(encoding="utf-8")
        assert "<strong>Verdict:" in page


def test_accuracy_from_several_steps_without_a_chosen_one_says_which(tmp_path: Path) -> None:
    ws, model, _ = deploy(tmp_path / "p", {"train.accuracy": 0.99, "evaluate.accuracy": 0.76})
    with ws:
        serve_and_label(ws, model, shifted_labels(model))
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert report.performance["reference"] is None
        assert "from several steps (evaluate.accuracy, train.accuracy)" in report.message
        assert "evaluation.metrics_step" in report.message


def test_monitor_run_exits_4_and_the_report_shows_the_recorded_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from conveyor.cli._monitor import app

    ws, model, accuracy = deploy(tmp_path / "p", None)
    with ws:
        serve_and_label(ws, model, shifted_labels(model))
    monkeypatch.chdir(tmp_path / "p")
    monkeypatch.setenv("COLUMNS", "200")
    ran = CliRunner().invoke(app, ["run", "--env", "production", "--window", "1000"])
    assert ran.exit_code == 4, ran.output
    assert f"recorded at registration {accuracy:.4f}" in ran.output
    assert "is below the recorded" in ran.output
