"""The CLI on real folders: commands find the project in parent folders, refuse outside
one without creating anything, `init` declares environments, `config validate --json`
scripts, and integrity failures exit 3 (the documented code) naming what broke."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_in_process import CliInProcess

from conveyor.cli import main


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="e2e", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "log"],
        ["audit", "verify"],
        ["gc", "--dry-run"],
        ["config", "validate"],
        ["deployments", "status"],
        ["deploy", "churn@1", "--env", "staging"],
    ],
)
def test_a_command_outside_a_project_refuses_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "not a conveyor project" in err
    assert "conveyor init" in err
    assert list(tmp_path.iterdir()) == []


def test_a_command_in_a_subfolder_uses_the_project_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path), "--name", "shop"]) == 0
    inner = tmp_path / "src" / "features"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    capsys.readouterr()
    assert main(["audit", "log", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["action"] == "store.migrate"
    assert not (inner / ".conveyor").exists()
    assert (tmp_path / ".conveyor").is_dir()


@pytest.mark.slow
def test_init_then_validate_json_then_a_typo(tmp_path: Path) -> None:
    assert _cli(tmp_path, "init", ".").returncode == 0
    valid = _cli(tmp_path, "config", "validate", "--json")
    assert valid.returncode == 0, valid.stderr
    assert json.loads(valid.stdout)["valid"] is True
    shown = json.loads(_cli(tmp_path, "config", "show", "--json").stdout)
    assert set(shown["config"]["environments"]) == {"staging", "production"}
    config = tmp_path / "conveyor.yaml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "gates:\n  - {check: min_metric, params: {metric: auc, min: 0.8}}\n"
        + "evaluation: {target: label, holdout_stepp: split}\n",
        encoding="utf-8",
    )
    invalid = _cli(tmp_path, "config", "validate", "--json")
    assert invalid.returncode == 1
    result = json.loads(invalid.stdout)
    assert result["valid"] is False
    assert result["suggestions"] == {"evaluation.holdout_stepp": "holdout_step"}
    config.write_text(config.read_text(encoding="utf-8").replace("holdout_stepp", "holdout_step"))
    metric = _cli(tmp_path, "config", "validate")
    assert metric.returncode == 1
    assert "unknown metric 'auc' (did you mean 'roc_auc'?)" in metric.stderr


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code in ("0: success", "1: error", "2: usage", "3: verification failed", "4: a gate",
                 "5: a gate", "6: the port", "130: interrupted"):  # fmt: skip
        assert code in out


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        ("target", "dataset:forged", "content changed"),
        ("at", "yesterday-ish", "malformed row: 'at' is not a timestamp"),
        ("details", "{broken", "malformed row: 'details' is not JSON"),
    ],
)
def test_audit_verify_exits_3_naming_the_broken_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    column: str, value: str, said: str,
) -> None:  # fmt: skip
    assert main(["init", str(tmp_path)]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["gc"]) == 0  # the store exists, with its first event
    with sqlite3.connect(tmp_path / ".conveyor" / "conveyor.db") as conn:
        conn.execute(f"UPDATE audit_events SET {column} = ? WHERE seq = 1", (value,))
    capsys.readouterr()
    assert main(["audit", "verify"]) == 3
    out = capsys.readouterr().out
    assert "broken at event #1" in out
    assert said in out
    assert main(["audit", "verify", "--json"]) == 3
    result = json.loads(capsys.readouterr().out)
    assert result["first_broken_seq"] == 1


def test_a_tampered_artifact_exits_3_like_any_integrity_failure(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    assert conveyor_in_process(tmp_path, "init", ".").returncode == 0
    data = tmp_path / "orders.csv"
    data.write_text("id,amount\n1,10\n2,20\n3,30\n", encoding="utf-8")
    added = conveyor_in_process(tmp_path, "data", "add", "orders", str(data))
    assert added.returncode == 0, added.stderr
    objects = [p for p in (tmp_path / ".conveyor" / "artifacts").rglob("*") if p.is_file()]
    for path in objects:
        if "objects" in path.parts:
            path.chmod(0o644)
            path.write_bytes(path.read_bytes()[:-1] + b"!")
    restored = conveyor_in_process(tmp_path, "data", "checkout", "orders@1", str(tmp_path / "out"))
    assert restored.returncode == 3, restored.stdout + restored.stderr
    assert "unexpected" not in restored.stderr


def test_validate_catches_a_target_typo_against_the_pinned_penguins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real data (string columns, missing values): the typo is named with the real column."""
    from palmerpenguins import load_penguins

    assert main(["init", str(tmp_path)]) == 0
    monkeypatch.chdir(tmp_path)
    load_penguins().to_csv(tmp_path / "penguins.csv", index=False)
    assert main(["data", "add", "penguins", "penguins.csv"]) == 0
    config = tmp_path / "conveyor.yaml"
    base = config.read_text(encoding="utf-8")
    config.write_text(base + "evaluation: {target: specie, sensitive: [sex]}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["config", "validate"]) == 1
    err = capsys.readouterr().err
    assert "evaluation.target names column 'specie'" in err
    assert "Did you mean 'species'?" in err
    config.write_text(base + "evaluation: {target: species, sensitive: [sex]}\n", encoding="utf-8")
    assert main(["config", "validate"]) == 0  # the right column passes


def test_validate_skips_the_column_check_without_a_local_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    (tmp_path / "conveyor.lock").write_text(
        '{"datasets": {"penguins": {"content_hash": "' + "0" * 64 + '", "version": 1}}, '
        '"format": 1}',
        encoding="utf-8",
    )
    config = tmp_path / "conveyor.yaml"
    config.write_text(config.read_text() + "evaluation: {target: specie}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["config", "validate"]) == 0
    assert not (tmp_path / ".conveyor").exists()  # validating created no store
