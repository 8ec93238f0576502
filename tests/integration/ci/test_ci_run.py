"""``run_ci`` end to end on a small real project: train, register, check, decide, report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conveyor.ci import EXIT_PROMOTE, EXIT_REJECT, run_ci
from conveyor.errors import ConfigError
from conveyor.workspace import Workspace


@pytest.mark.slow
def test_first_candidate_is_promoted_on_absolute_checks_and_reported(
    ws: Workspace, tmp_path: Path
) -> None:
    result = run_ci(ws, report_dir=tmp_path / "r")
    assert result.decision.decision == "PROMOTE"
    assert result.exit_code == EXIT_PROMOTE
    assert "no champion yet: judged on absolute checks only" in result.decision.reasons
    assert set(result.reports) == {"markdown", "junit", "json", "html"}
    assert all(path.is_file() for path in result.reports.values())
    names = [r.name for r in result.suite.results]
    assert names == ["min_metric", "pipeline_sample", "signature_serving", "serving_roundtrip"]
    assert all(r.status == "passed" for r in result.suite.results)
    version = ws.models.get(result.model_version.ref)
    assert version.tags == {"candidate": "true"}
    assert version.run_id == result.run_id
    cases = ET.parse(result.reports["junit"]).getroot().iter("testcase")
    assert {c.get("name") for c in cases} >= set(names)
    assert json.loads(result.reports["json"].read_text())["decision"]["decision"] == "PROMOTE"


def test_candidate_failing_an_error_gate_is_rejected_against_the_champion(
    ws: Workspace, tmp_path: Path, project: Path
) -> None:
    first = run_ci(ws, report_dir=tmp_path / "a", integration=False)
    ws.models.set_alias("clf", first.model_version.version, "champion")
    config = (project / "conveyor.yaml").read_text()
    (project / "conveyor.yaml").write_text(config.replace("min: 0.8", "min: 0.999"))
    with Workspace.open(project) as strict:
        second = run_ci(strict, report_dir=tmp_path / "b", integration=False)
    assert second.decision.decision == "REJECT"
    assert second.exit_code == EXIT_REJECT
    assert second.decision.champion_ref == first.model_version.ref
    markdown = second.reports["markdown"].read_text()
    assert markdown.startswith("**Gate: REJECT**")
    assert "min_metric" in markdown
    failures = [
        c.get("name")
        for c in ET.parse(second.reports["junit"]).getroot().iter("testcase")
        if c.find("failure") is not None
    ]
    assert failures == ["min_metric"]


def test_ci_without_evaluation_names_every_missing_setting(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: bare}\n")
    with (
        Workspace.open(tmp_path) as ws,
        pytest.raises(ConfigError, match=r"pipelines\.training, evaluation\.model") as info,
    ):
        run_ci(ws, report_dir=tmp_path / "r")
    assert "docs/checks.md" in (info.value.hint or "")
