"""``conveyor models show | card | history`` in a real process: stored text never drives
the terminal, and the history says which environment moved each alias."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from conveyor.rollout import Controller
from conveyor.workspace import Workspace

HOSTILE = "Predicts progression.\x1b[2J\x1b]0;owned\x07\x9b31m [bold red]styled[/]"


def _conveyor(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(COLUMNS="250")
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-text") / "proj"
    root.mkdir()
    (root / "conveyor.yaml").write_text(
        "project: {name: text}\n"
        "environments: {production: {strategy: replace}, staging: {strategy: replace}}\n",
        encoding="utf-8",
    )
    frame = load_diabetes(as_frame=True).frame
    features = frame.drop(columns=["target"])
    with Workspace.open(root, env={}, search_parents=False) as ws:
        for alpha in (1.0, 2.0):
            ws.models.register(
                "progression",
                Ridge(alpha=alpha).fit(features, frame["target"]),
                input_example=features.head(3),
                description=HOSTILE,
                explain=False,
                onnx=False,
            )
        controller = Controller(ws)
        controller.deploy("progression@1", "production")
        controller.deploy("progression@2", "staging")
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ("models", "show", "progression@1"),
        ("models", "card", "progression@1"),
        ("models", "history", "progression"),
        ("models", "show", "progression"),
    ],
)
def test_no_escape_sequence_from_stored_text_reaches_the_terminal(
    project: Path, args: tuple[str, ...]
) -> None:
    done = _conveyor(project, *args)
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    assert "\x9b" not in done.stdout
    assert "\x07" not in done.stdout


@pytest.mark.slow
def test_show_prints_the_description_visibly_escaped_and_unstyled(project: Path) -> None:
    done = _conveyor(project, "models", "show", "progression@1")
    assert "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m [bold red]styled[/]" in done.stdout


@pytest.mark.slow
def test_history_names_the_environment_that_moved_each_alias(project: Path) -> None:
    done = _conveyor(project, "models", "history", "progression", "--json")
    assert done.returncode == 0, done.stderr
    moves = {(e["alias"], e["version"]): e["reason"] for e in json.loads(done.stdout) if e["alias"]}
    assert moves[("staging", 2)] == "environment 'staging' serves it at 100%"
    assert moves[("production", 1)] == "environment 'production' serves it at 100%"
    assert moves[("champion", 1)] == "environment 'production' serves it at 100%"


@pytest.mark.slow
def test_a_twenty_digit_version_is_one_clear_line(project: Path) -> None:
    done = _conveyor(project, "models", "show", "progression@" + "9" * 20)
    assert done.returncode == 1
    assert "versions are whole numbers from 1 to 2147483647" in done.stderr
    assert "OverflowError" not in done.stderr + done.stdout
    assert "unexpected" not in done.stderr.lower()
