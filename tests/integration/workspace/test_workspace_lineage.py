"""The registry's lineage source over the workspace's runs and datasets."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from conveyor.registry import LineageSource, RegistrationError
from conveyor.workspace import Workspace, WorkspaceLineage


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    (tmp_path / "conveyor.yaml").write_text("project: {name: lineage}\n", encoding="utf-8")
    with Workspace.open(tmp_path, env={}, search_parents=False) as opened:
        yield opened


def _runs(ws: Workspace) -> tuple[str, str]:
    """A pipeline run and its step run, with datasets, metrics and params recorded."""
    pipeline = ws.runs.start_run("train", kind="pipeline", params={"depth": 3})
    step = ws.runs.start_run("fit", kind="step", parent_id=pipeline.id, params={"lr": 0.1})
    ws.runs.record_dataset(pipeline.id, "customers", 1, "a" * 64)
    ws.runs.record_dataset(pipeline.id, "events", 4, "b" * 64)
    ws.runs.record_dataset(step.id, "customers", 2, "c" * 64)  # nearer: wins
    ws.runs.log_metrics(step.id, {"auc": 0.7, "loss": 0.5}, step=0)
    ws.runs.log_metrics(step.id, {"auc": 0.91, "loss": math.nan}, step=1)
    ws.runs.log_metric(pipeline.id, "wall", 3.0)
    return pipeline.id, step.id


def test_the_workspace_wires_a_lineage_source_into_the_registry(ws: Workspace) -> None:
    assert isinstance(ws.models.lineage, WorkspaceLineage)
    assert isinstance(ws.models.lineage, LineageSource)


def test_a_runs_lineage_walks_its_parents_nearest_record_winning(ws: Workspace) -> None:
    pipeline, step = _runs(ws)
    found = WorkspaceLineage(ws.runs, ws.datasets).run_lineage(step)
    assert found is not None
    assert found.run_id == step
    assert found.code_version == ws.runs.get(pipeline).code_version
    assert found.datasets == (
        {"name": "customers", "version": 2, "content_hash": "c" * 64},
        {"name": "events", "version": 4, "content_hash": "b" * 64},
    )
    assert found.metrics["auc"] == 0.91
    assert math.isnan(found.metrics["loss"])
    assert "wall" not in found.metrics  # the run's own metrics only
    assert found.params == {"lr": 0.1}


def test_only_an_exact_recorded_run_id_has_lineage(ws: Workspace) -> None:
    _, step = _runs(ws)
    source = WorkspaceLineage(ws.runs, ws.datasets)
    assert source.run_lineage(step[:8]) is None
    assert source.run_lineage("0" * 32) is None


def test_dataset_versions_by_number_or_newest(ws: Workspace) -> None:
    ws.datasets.add("orders", pd.DataFrame({"x": [1, 2, 3]}))
    ws.datasets.add("orders", pd.DataFrame({"x": [1, 2, 3, 4]}))
    source = WorkspaceLineage(ws.runs, ws.datasets)
    newest = source.dataset_version("orders", None)
    first = source.dataset_version("orders", 1)
    assert newest is not None
    assert first is not None
    assert (newest.version, newest.row_count) == (2, 4)
    assert newest.content_hash == ws.datasets.get("orders@2").content_hash
    assert (first.version, first.row_count) == (1, 3)
    assert first.profile == ws.datasets.get("orders@1").profile
    assert source.dataset_version("orders", 3) is None
    assert source.dataset_version("nope", None) is None
    assert source.dataset_versions("orders") == [1, 2]
    assert source.dataset_versions("nope") == []


def test_registering_with_a_run_records_its_lineage_metrics_and_params(ws: Workspace) -> None:
    _, step = _runs(ws)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 6.0, 8.0]})
    model = LinearRegression().fit(frame[["x"]], frame["y"])
    version = ws.models.register(
        "double", model, input_example=frame[["x"]], run=step, explain=False, onnx=False
    )
    assert version.run_id == step
    assert version.lineage["datasets"] == [
        {"name": "customers", "version": 2, "content_hash": "c" * 64},
        {"name": "events", "version": 4, "content_hash": "b" * 64},
    ]
    assert version.metrics == {"auc": 0.91, "loss": None}
    assert version.params == {"lr": 0.1}
    with pytest.raises(RegistrationError, match=r"Cannot register with run '.*': no such run"):
        ws.models.register("double", model, input_example=frame[["x"]], run=step[:8])
