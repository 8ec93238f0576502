"""Every command's error line shows hostile text inert: a terminal escape or a control
character in a name the user (or a file) supplied is printed as its escape, never acted on."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["data", "add", "images", "missing\x1b[2J\x07.csv"],
        ["models", "show", "churn\x1b]0;owned\x07@1"],
        ["runs", "show", "run\x1b[31m\x9b2J"],
    ],
)
def test_an_error_about_hostile_text_prints_it_inert(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    capsys.readouterr()
    assert main(args) != 0
    captured = capsys.readouterr()
    shown = captured.err + captured.out
    assert "error:" in shown
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "\x9b" not in shown
    assert "\\x1b" in shown.replace("\n", "")
