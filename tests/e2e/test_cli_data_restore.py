"""End to end: exact restore, pulling any version into a fresh clone, and plain progress
lines for large data when stderr is not a terminal.

The progress lines are read from the real process's stderr; the restore calls the CLI in
this process (``cli_in_process.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_in_process import CliInProcess, Ran
from palmerpenguins import load_penguins


def conveyor(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["CONVEYOR_ACTOR"] = "e2e"
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, f"conveyor {' '.join(args)} failed:\n{proc.stderr}"
    return proc


def test_fresh_clone_pulls_an_older_version_and_restores_the_csv(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    def conveyor(cwd: Path, *args: str, ok: bool = True) -> Ran:
        ran = conveyor_in_process(cwd, *args)
        if ok:
            assert ran.returncode == 0, f"conveyor {' '.join(args)} failed:\n{ran.stderr}"
        return ran

    conveyor(tmp_path, "init", "survey")
    project = tmp_path / "survey"
    remote = tmp_path / "remote"
    csv = project / "survey.csv"
    load_penguins().head(120).to_csv(csv, index=False, na_rep="NA")
    v1 = csv.read_bytes()
    conveyor(project, "data", "add", "survey", "survey.csv")
    conveyor(project, "data", "push", "--remote", str(remote))
    load_penguins().to_csv(csv, index=False, na_rep="NA")
    conveyor(project, "data", "add", "survey", "survey.csv")
    conveyor(project, "data", "push", "--remote", str(remote))

    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("conveyor.yaml", "conveyor.lock"):
        (clone / name).write_bytes((project / name).read_bytes())
    conveyor(clone, "data", "pull", "--remote", str(remote))
    refused = conveyor(clone, "data", "checkout", "survey@1", "v1.csv", ok=False)
    assert refused.returncode == 1
    assert "conveyor data pull survey@1" in refused.stderr + refused.stdout

    pulled = json.loads(
        conveyor(clone, "data", "pull", "survey@1", "--remote", str(remote), "--json").stdout
    )
    assert pulled["datasets"] == ["survey@1"]
    out = json.loads(
        conveyor(clone, "data", "checkout", "survey@1", "out/survey-v1.csv", "--json").stdout
    )
    assert out["path"] == str(clone / "out" / "survey-v1.csv")
    assert (clone / "out" / "survey-v1.csv").read_bytes() == v1
    conveyor(clone, "data", "checkout", "survey@1", "v1.parquet", "--format", "parquet")
    assert (clone / "v1.parquet").read_bytes()[:4] == b"PAR1"
    bad = conveyor(clone, "data", "checkout", "survey@1", "x", "--format", "xlsx", ok=False)
    assert bad.returncode == 1
    assert "Unknown checkout format 'xlsx'" in bad.stderr + bad.stdout


@pytest.mark.slow
def test_large_inputs_report_byte_progress_as_plain_lines(tmp_path: Path) -> None:
    conveyor(tmp_path, "init", "big")
    project = tmp_path / "big"
    (project / "blob.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    added = conveyor(project, "data", "add", "blob", "blob.bin")
    assert "Uploading: 100%" in added.stderr
    pushed = conveyor(project, "data", "push", "--remote", str(tmp_path / "remote"))
    assert "Pushing blob@1: 100%" in pushed.stderr
    quiet = conveyor(project, "data", "add", "small", "conveyor.yaml")
    assert "%" not in quiet.stderr
