"""``conveyor serve`` needs exactly one of --model and --env, and says which way it was wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.cli._app import main


@pytest.mark.parametrize(
    ("args", "said"),
    [([], "(got neither)"), (["--model", "churn@1", "--env", "prod"], "(got --model churn@1")],
)
def test_serve_refuses_neither_or_both_and_says_which(
    args: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["serve", *args]) != 0
    err = capsys.readouterr().err
    assert "Pass exactly one of --model and --env" in err
    assert said in err
    assert "conveyor serve --model churn@champion" in err  # the hint
