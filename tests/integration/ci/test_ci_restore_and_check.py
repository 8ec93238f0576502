"""Restoring pinned data for CI, and ``check_subject`` on datasets, runs and models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ci_support import points

from conveyor.ci import EXIT_PROMOTE, EXIT_REJECT, check_subject, restore_data
from conveyor.ci._outputs import run_output
from conveyor.errors import LockFileError
from conveyor.pipelines import load_pipeline
from conveyor.workspace import Workspace


def _fresh_clone(project: Path, tmp_path: Path, remote: str | None) -> Path:
    """What a CI checkout has: the code, conveyor.yaml and conveyor.lock, no stores."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("pipelines.py", "conveyor.lock"):
        shutil.copy(project / name, clone / name)
    config = (project / "conveyor.yaml").read_text()
    if remote is not None:
        config += f"store: {{remote_url: {remote}}}\n"
    (clone / "conveyor.yaml").write_text(config)
    return clone


def test_ci_pulls_pinned_data_missing_locally_from_the_remote(
    ws: Workspace, project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    ws.datasets.push(ws.open_remote(str(remote)))
    clone = _fresh_clone(project, tmp_path, str(remote))
    with Workspace.open(clone) as fresh:
        assert restore_data(fresh) == {"points": 1}
        assert len(fresh.datasets.load("points@1")) == 300
        assert restore_data(fresh) == {"points": 1}  # already present: nothing to pull


def test_missing_pinned_data_without_a_remote_names_the_pin(project: Path, tmp_path: Path) -> None:
    clone = _fresh_clone(project, tmp_path, None)
    with (
        Workspace.open(clone) as fresh,
        pytest.raises(LockFileError, match=r"pins points@1.*remote_url is not set"),
    ):
        restore_data(fresh)


def test_corrupted_dataset_version_fails_the_schema_check_naming_the_column(
    ws: Workspace, project: Path
) -> None:
    from conveyor.checks.data import infer_schema

    infer_schema(ws, "points@1")
    broken = points().assign(a=lambda f: f["a"].astype(str) + "x")
    ws.datasets.add("points", broken)
    outcome = check_subject(ws, data="points@2", report_dir=project / "r")
    (schema,) = [r for r in outcome.suite.results if r.name == "schema"]
    assert schema.status == "failed"
    assert "'a'" in schema.explanation
    assert outcome.exit_code == EXIT_REJECT
    assert "schema" in (project / "r" / "report.md").read_text()


def test_model_check_reads_the_holdout_from_its_source_run(ws: Workspace) -> None:
    run = load_pipeline("pipelines:training", ws.root).run(ws)
    holdout = run_output(ws, run.run_id, "split", 1)
    assert len(holdout) == 90
    example = holdout.drop(columns=["y"]).head(3)
    version = ws.models.register("clf", run.output("train"), input_example=example, run=run.run_id)
    outcome = check_subject(ws, model=version.ref)
    names = [r.name for r in outcome.suite.results]
    assert names == ["min_metric", "signature_serving", "serving_roundtrip"]
    assert outcome.decision.decision == "PROMOTE"
    assert outcome.exit_code == EXIT_PROMOTE
