"""Calling the CLI in process many times costs the same each time (tests and embedders do)."""

from __future__ import annotations

import pytest

from conveyor.cli import main
from conveyor.cli._run import export_app


def test_repeated_calls_register_every_command_once(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["export", "--help"], ["cost", "--help"], ["export", "--help"], ["--help"]):
        assert main(args) == 0
    names = [c.name for c in export_app.registered_commands]
    assert sorted(names) == ["airflow", "k8s", "kfp", "kserve"]
    out = capsys.readouterr().out
    assert out.count("kserve") >= 2  # the group's help lists it each time, once
