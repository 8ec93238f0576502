"""End to end: ``conveyor ci``, ``check`` and ``score`` on the tabular example project.

A good candidate passes the gates and writes the four reports (judged on absolute checks,
as the first model); once it is the champion, a candidate trained on shuffled labels is
rejected with exit code 4 and its failing checks named in the Markdown and JUnit reports;
a corrupted dataset version fails schema validation naming the column; ``conveyor score``
prints the ML Test Score rubric.

``ci`` runs as the real ``conveyor`` process; the alias, the data check and the rubric
call the CLI in this process (``cli_in_process.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from cli_in_process import CliInProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tabular"


def conveyor(cwd: Path, *args: str, expect: int = 0) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="e2e", COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == expect, (
        f"conveyor {' '.join(args)} exited {proc.returncode}, expected {expect}:\n"
        f"{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout


def in_process(run: CliInProcess, cwd: Path, *args: str, expect: int = 0) -> str:
    """``conveyor ARGS`` in this process; its exit code asserted; its standard output."""
    ran = run(cwd, *args)
    assert ran.returncode == expect, (
        f"conveyor {' '.join(args)} exited {ran.returncode}, expected {expect}:\n"
        f"{ran.stdout}\n{ran.stderr}"
    )
    return ran.stdout


def failed_cases(junit: Path) -> set[str]:
    root = ET.parse(junit).getroot()
    return {
        str(case.get("name"))
        for case in root.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tabular-ci")
    for name in ("conveyor.yaml", "pipelines.py", "prepare_data.py"):
        shutil.copy(EXAMPLE / name, root / name)
    subprocess.run([sys.executable, "prepare_data.py"], cwd=root, check=True, timeout=120)
    conveyor(root, "data", "add", "cancer", "data/cancer.csv")
    return root


@pytest.mark.slow
def test_ci_promotes_a_good_candidate_and_rejects_a_degraded_one(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    good = json.loads(conveyor(project, "ci", "--report-dir", "good", "--json"))
    assert good["exit_code"] == 0
    assert good["decision"]["decision"] == "PROMOTE"
    assert "no champion yet: judged on absolute checks only" in good["decision"]["reasons"]
    reports = project / "good"
    assert sorted(p.name for p in reports.iterdir()) == [
        "junit.xml",
        "report.html",
        "report.json",
        "report.md",
    ]
    assert (reports / "report.md").read_text().startswith("**Gate: PROMOTE**")
    assert failed_cases(reports / "junit.xml") == set()
    in_process(conveyor_in_process, project, "models", "alias", good["model"], "champion")

    out = conveyor(project, "ci", "--report-dir", "bad", "-p", "shuffle_labels=true", expect=4)
    assert "Gate: REJECT" in out
    markdown = (project / "bad" / "report.md").read_text()
    assert markdown.startswith("**Gate: REJECT**")
    failed = failed_cases(project / "bad" / "junit.xml")
    assert {"min_metric", "champion_comparison"} <= failed
    for name in failed:
        assert name in markdown
    assert f"champion `{good['model']}`" in markdown


@pytest.mark.slow
def test_schema_check_names_the_corrupted_column_and_score_prints_the_rubric(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    def cli(cwd: Path, *args: str, expect: int = 0) -> str:
        return in_process(conveyor_in_process, cwd, *args, expect=expect)

    if not (project / "good").exists():  # the schema baseline is stored by the first ci run
        conveyor(project, "ci", "--report-dir", "good", "--no-integration")
    frame = pd.read_csv(project / "data" / "cancer.csv")
    frame["mean radius"] = -frame["mean radius"]
    frame.to_csv(project / "data" / "cancer_corrupt.csv", index=False)
    cli(project, "data", "add", "cancer", "data/cancer_corrupt.csv")
    out = cli(project, "check", "--data", "cancer@2", "--report-dir", "data", expect=4)
    assert "mean radius" in out
    assert "mean radius" in (project / "data" / "report.md").read_text()
    assert "schema" in failed_cases(project / "data" / "junit.xml")

    rubric = cli(project, "score")
    for title in ("Data", "Model development", "Infrastructure", "Monitoring"):
        assert title in rubric
    assert "ML Test Score:" in rubric
    score = json.loads(cli(project, "score", "--json"))
    assert len(score["points"]) == 28
    assert score["final"] == min(score["sections"].values())
