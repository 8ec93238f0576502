"""CLI: init, config show/validate, and the top-level error handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conveyor.cli import main


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_scaffolds_config_pipelines_and_gitignore(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "shop"]) == 0
    root = in_tmp / "shop"
    assert "name: shop" in (root / "conveyor.yaml").read_text()
    assert (root / "pipelines.py").is_file()
    assert ".conveyor/" in (root / ".gitignore").read_text().splitlines()
    assert "Initialised conveyor project" in capsys.readouterr().out


def test_init_refuses_to_overwrite_without_force(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    capsys.readouterr()
    assert main(["init"]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err
    assert "--force" in err
    assert main(["init", "--force"]) == 0


def test_init_keeps_an_existing_gitignore(in_tmp: Path) -> None:
    (in_tmp / ".gitignore").write_text("*.pyc")
    assert main(["init"]) == 0
    lines = (in_tmp / ".gitignore").read_text().splitlines()
    assert lines[0] == "*.pyc"
    assert ".conveyor/" in lines


def test_config_show_json_reports_overrides(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    main(["init", "--name", "shop"])
    capsys.readouterr()
    monkeypatch.setenv("CONVEYOR_ARTIFACT_URL", "s3://bucket/x")
    assert main(["config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["project"]["name"] == "shop"
    assert shown["config"]["store"]["artifact_url"] == "s3://bucket/x"
    assert shown["env_overrides"] == ["store.artifact_url"]


def test_config_validate_names_the_bad_key_and_exits_1(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "conveyor.yaml").write_text("stor: {}\n")
    assert main(["config", "validate"]) == 1
    err = capsys.readouterr().err
    assert "unknown key 'stor'" in err
    valid = "valid keys here: cost, data, environments, evaluation, features, gates, kubernetes"
    assert valid in err
    assert "Traceback" not in err


def test_verbose_shows_the_traceback(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_tmp / "conveyor.yaml").write_text("stor: {}\n")
    assert main(["config", "validate", "--verbose"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_usage_error_exits_2(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "nonsense"]) == 2
    assert "No such command" in capsys.readouterr().err


def test_gc_rejects_a_bad_duration(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gc", "--grace", "soon"]) == 1
    assert "Invalid duration 'soon'" in capsys.readouterr().err


def test_config_validate_rejects_an_unknown_gate_check(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "conveyor.yaml").write_text("gates:\n  - {check: min_metrik, params: {}}\n")
    assert main(["config", "validate"]) == 1
    err = capsys.readouterr().err
    assert "min_metrik" in err
    assert "min_metric" in err
