"""``conveyor predictions erase`` on a project: rows and labels go, counts printed, audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from conveyor.cli import _predictions
from conveyor.predictions import PiiKeyMissingError, PredictionLogError, PredictionRecord
from conveyor.workspace import Workspace

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EMAIL = "ana@example.com"
KEY = "a-long-random-secret-for-tests"

#: The group mounted as the ``conveyor`` command mounts it.
app = typer.Typer()
app.add_typer(_predictions.app, name="predictions")


def _project(root: Path, config: str = "", **env: str) -> None:
    (root / "conveyor.yaml").write_text(f"project: {{name: p}}\n{config}")
    with Workspace.open(root, env=env) as ws:
        from conveyor.predictions import pii_policy

        ws.predictions.privacy = pii_policy(ws.settings)
        records = [
            PredictionRecord(
                f"r{i}",
                T0 + timedelta(seconds=i),
                "churn",
                1,
                {"email": email, "age": 30 + i},
                0,
                1.0,
                environment=environment,
            )
            for i, (email, environment) in enumerate(
                [(EMAIL, "production"), ("bo@example.com", "production"), (EMAIL, "staging")]
            )
        ]
        ws.predictions.write(records)
        ws.predictions.feedback({"r0": 1, "r1": 0})


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("CONVEYOR_PII_KEY", "CONVEYOR_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_erase_removes_the_rows_and_labels_and_prints_the_counts(
    runner: CliRunner, tmp_path: Path
) -> None:
    _project(tmp_path)
    result = runner.invoke(app, ["predictions", "erase", "--key", f"email={EMAIL}", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Erased 2 prediction(s) from 2 stored batch(es) and 1 label(s)" in result.output
    assert EMAIL not in result.output
    with Workspace.open(tmp_path, env={}) as ws:
        assert ws.predictions.read()["request_id"].tolist() == ["r1"]
        (event,) = [e for e in ws.audit_log() if e.action == "predictions.erase"]
        assert EMAIL not in json.dumps(event.details)


def test_erase_in_one_environment_keeps_the_others(runner: CliRunner, tmp_path: Path) -> None:
    _project(tmp_path)
    result = runner.invoke(
        app,
        ["predictions", "erase", "--key", f"email={EMAIL}", "--env", "staging", "--yes", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"rows": 1, "partitions": 1, "labels": 0}
    with Workspace.open(tmp_path, env={}) as ws:
        assert sorted(ws.predictions.read()["request_id"]) == ["r0", "r1"]


def test_erase_asks_first_and_a_no_changes_nothing(runner: CliRunner, tmp_path: Path) -> None:
    _project(tmp_path)
    result = runner.invoke(app, ["predictions", "erase", "--key", f"email={EMAIL}"], input="n\n")
    assert result.exit_code == 1
    assert EMAIL not in result.output
    with Workspace.open(tmp_path, env={}) as ws:
        assert len(ws.predictions.read()) == 3


def test_a_hashed_column_is_erased_with_the_key_from_the_environment(
    runner: CliRunner, tmp_path: Path
) -> None:
    _project(tmp_path, "predictions: {pii: {columns: [email]}}\n", CONVEYOR_PII_KEY=KEY)
    result = runner.invoke(
        app,
        ["predictions", "erase", "--key", f"email={EMAIL}", "--yes"],
        env={"CONVEYOR_PII_KEY": KEY},
    )
    assert result.exit_code == 0, result.output
    assert "Erased 2 prediction(s)" in result.output


def test_a_hashed_column_without_the_key_is_refused_without_echoing_the_value(
    runner: CliRunner, tmp_path: Path
) -> None:
    _project(tmp_path, "predictions: {pii: {columns: [email]}}\n", CONVEYOR_PII_KEY=KEY)
    result = runner.invoke(app, ["predictions", "erase", "--key", f"email={EMAIL}", "--yes"])
    assert isinstance(result.exception, PiiKeyMissingError)
    assert EMAIL not in str(result.exception)
    assert KEY not in str(result.exception)


@pytest.mark.parametrize("key", [EMAIL, f"={EMAIL}", "  =x"])
def test_a_key_that_is_not_column_equals_value_is_refused_without_echoing_it(
    runner: CliRunner, tmp_path: Path, key: str
) -> None:
    _project(tmp_path)
    result = runner.invoke(app, ["predictions", "erase", "--key", key, "--yes"])
    assert isinstance(result.exception, PredictionLogError)
    assert EMAIL not in str(result.exception)
    assert result.exception.hint is not None
