"""End to end on the tabular example: releasing models through the real CLI.

v1 goes out with `replace`; the canary policy is rehearsed with `simulate` (the real
controller and router on accelerated time): a good v2 is promoted, a bad v3 (trained on
shuffled labels) is rolled back on its own; a rejected version is refused without a
recorded reason; blue-green, A/B and shadow rollouts; `rollback` restores the previous
stable state in one command; the history shows every transition with its reason.

Training, the first deploy and the rehearsals run the real ``conveyor`` process; the
status reads and the staging transitions call the CLI in this process
(``cli_in_process.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_in_process import CliInProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tabular"
MODEL = "cancer-classifier"


def conveyor(cwd: Path, *args: str, code: int = 0) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="release-manager", COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == code, f"conveyor {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def in_process(run: CliInProcess, cwd: Path, *args: str, code: int = 0) -> str:
    """``conveyor ARGS`` in this process as the release manager; exit code asserted."""
    ran = run(cwd, *args, CONVEYOR_ACTOR="release-manager")
    assert ran.returncode == code, f"conveyor {' '.join(args)}:\n{ran.stdout}\n{ran.stderr}"
    return ran.stdout + ran.stderr


def status(run: CliInProcess, project: Path, env: str) -> dict[str, object]:
    shown = json.loads(run(project, "deployments", "status", "--env", env, "--json").stdout)
    state = shown[env]
    assert isinstance(state, dict)
    return state


def live(state: dict[str, object]) -> dict[str, float]:
    variants = state["variants"]
    assert isinstance(variants, list)
    return {f"{v['role']}@{v['version']}": v["weight"] for v in variants}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("release")
    for name in ("conveyor.yaml", "pipelines.py", "prepare_data.py"):
        shutil.copy(EXAMPLE / name, root / name)
    subprocess.run([sys.executable, "prepare_data.py"], cwd=root, check=True, timeout=120)
    conveyor(root, "data", "add", "cancer", "data/cancer.csv")
    conveyor(root, "ci", "--report-dir", "r1", "--no-integration")  # v1
    conveyor(root, "ci", "--report-dir", "r2", "--no-integration", "-p", "seed=1")  # v2
    conveyor(
        root, "ci", "--report-dir", "r3", "--no-integration", "-p", "shuffle_labels=true", code=4
    )
    frame = pd.read_csv(root / "data" / "cancer.csv").rename(columns={"target": "label"})
    pd.concat([frame] * 8).sample(frac=1, random_state=0).to_csv(root / "traffic.csv", index=False)
    return root


@pytest.mark.slow
def test_replace_then_rehearsed_canaries(project: Path, conveyor_in_process: CliInProcess) -> None:
    conveyor(project, "deploy", f"{MODEL}@1", "--env", "production")
    assert live(status(conveyor_in_process, project, "production")) == {"champion@1": 100.0}

    good = json.loads(
        conveyor(project, "simulate", "--env", "production", "--traffic", "traffic.csv",
                 "--challenger", f"{MODEL}@2", "--json")
    )  # fmt: skip
    assert good["outcome"] == "promoted"
    assert [e["action"] for e in good["timeline"]][-1] == "promote"

    bad = json.loads(
        conveyor(project, "simulate", "--env", "production", "--traffic", "traffic.csv",
                 "--challenger", f"{MODEL}@3", "--json")
    )  # fmt: skip
    assert bad["outcome"] == "rolled_back"
    assert 0 < bad["worse_model_requests"] < bad["served"]["champion"]
    assert "analysis failed" in bad["timeline"][-1]["reason"]

    printed = conveyor(project, "simulate", "--env", "production", "--traffic", "traffic.csv",
                       "--challenger", f"{MODEL}@3")  # fmt: skip
    assert "rolled_back" in printed or "rolled back" in printed
    # A simulation deploys nothing.
    assert live(status(conveyor_in_process, project, "production")) == {"champion@1": 100.0}


@pytest.mark.slow
def test_rejected_version_needs_a_recorded_reason(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    refused = in_process(
        conveyor_in_process, project, "deploy", f"{MODEL}@3", "--env", "staging", code=1
    )
    assert "gate rejected" in refused
    assert "--force-reason" in refused


@pytest.mark.slow
def test_blue_green_ab_shadow_and_one_command_rollback(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    def cli(cwd: Path, *args: str) -> str:
        return in_process(conveyor_in_process, cwd, *args)

    cli(project, "deploy", f"{MODEL}@1", "--env", "staging")
    cli(project, "deploy", f"{MODEL}@2", "--env", "staging", "--strategy", "blue-green")
    switched = live(status(conveyor_in_process, project, "staging"))
    assert [w for role, w in switched.items() if role.endswith("@2")] == [100.0]
    assert [w for role, w in switched.items() if role.endswith("@1")] == [0.0]  # kept warm

    cli(project, "rollback", "--env", "staging")
    back = live(status(conveyor_in_process, project, "staging"))
    assert [w for role, w in back.items() if role.endswith("@1")] == [100.0]

    cli(project, "deploy", f"{MODEL}@2", "--env", "staging", "--strategy", "ab")
    split = live(status(conveyor_in_process, project, "staging"))
    assert sorted(split.values()) == [50.0, 50.0]
    cli(project, "promote", "--env", "staging")
    assert list(live(status(conveyor_in_process, project, "staging")).values()).count(100.0) == 1

    cli(project, "deploy", f"{MODEL}@3", "--env", "staging", "--strategy", "shadow",
        "--force-reason", "watch the rejected model on live traffic")  # fmt: skip
    shadowed = status(conveyor_in_process, project, "staging")
    roles = {v["role"]: v["weight"] for v in shadowed["variants"]}  # type: ignore[union-attr]
    assert roles.get("shadow") == 0.0
    cli(project, "rollback", "--env", "staging")

    history = json.loads(cli(project, "deployments", "history", "--env", "staging", "--json"))
    entries = history["staging"] if isinstance(history, dict) else history
    actions = [t["action"] for t in entries]
    assert actions.count("rollback") == 2
    assert all(t["reason"] for t in entries)
    assert all(t["actor"] == "release-manager" for t in entries)
    assert any("watch the rejected model" in t["reason"] for t in entries)
