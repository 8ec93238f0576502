"""A pipeline that logs no metrics still gets the gate's holdout metric on its version."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.ci import run_ci
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
