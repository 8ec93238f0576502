"""``conveyor tokens`` on a real project: the secret is printed once, at creation, and
never again by any command, log or audit entry; bad input exits 1 with a hint.

The round trip runs the real ``conveyor`` process; the refusals call the CLI in this
process (``cli_in_process.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_in_process import CliInProcess

from conveyor.security import SqlTokenRecords, Tokens
from conveyor.workspace import Workspace


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="e2e", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tokens")
    assert _cli(root, "init", ".").returncode == 0
    return root


def test_create_list_revoke_round_trip_shows_the_secret_once(project: Path) -> None:
    created = _cli(project, "tokens", "create", "ci", "--role", "developer",
                   "--env", "staging", "--expires", "90d", "--json")  # fmt: skip
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    secret = body["secret"]
    assert secret.startswith("cvy_")
    assert (body["name"], body["role"], body["environments"]) == ("ci", "developer", ["staging"])
    human = _cli(project, "tokens", "create", "web", "--role", "predictor")
    assert human.returncode == 0, human.stderr
    assert "shown once" in human.stdout
    assert "expires never" in human.stdout

    listed = _cli(project, "tokens", "list", "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["state"]) for r in rows] == [("ci", "active"), ("web", "active")]
    table = _cli(project, "tokens", "list")
    assert "developer" in table.stdout
    assert "staging" in table.stdout

    revoked = _cli(project, "tokens", "revoke", "ci")
    assert revoked.returncode == 0, revoked.stderr
    assert "Revoked token ci" in revoked.stdout
    rows = json.loads(_cli(project, "tokens", "list", "--json").stdout)
    assert rows[0]["state"] == "revoked"

    audit = _cli(project, "audit", "log", "--json")
    assert "token.create" in audit.stdout
    assert "token.revoke" in audit.stdout
    for result in (listed, table, revoked, audit):
        assert secret not in result.stdout + result.stderr
    for path in project.rglob("*"):
        if path.is_file() and path.suffix != ".db":
            assert secret.encode() not in path.read_bytes(), path


def test_a_created_secret_verifies_from_python(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    result = conveyor_in_process(project, "tokens", "create", "py", "--role", "viewer", "--json")
    assert result.returncode == 0, result.stderr
    secret = json.loads(result.stdout)["secret"]
    with Workspace.open(project) as ws:
        assert Tokens(SqlTokenRecords(ws.store)).verify(secret, client="t").name == "py"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "x1", "--role", "root"], "Unknown role 'root'"),
        (["create", "x2", "--role", "viewer", "--expires", "soon"], "is not a duration"),
        (["create", "x3", "--role", "viewer", "--expires", "0d"], "is not a duration"),
        (["create", "../etc", "--role", "viewer"], "Invalid token name"),
        (["create", "x4", "--role", "viewer", "--env", "a b"], "Invalid environment name"),
        (["revoke", "nope"], "No token is named 'nope'"),
    ],
)
def test_bad_input_exits_1_with_a_hint(
    project: Path, conveyor_in_process: CliInProcess, args: list[str], message: str
) -> None:
    result = conveyor_in_process(project, "tokens", *args)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "cvy_" not in result.stdout + result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_serving_beyond_loopback_without_auth_is_refused(
    project: Path, conveyor_in_process: CliInProcess, host: str
) -> None:
    result = conveyor_in_process(project, "serve", "--model", "nosuch@1", "--host", host)
    assert result.returncode == 1
    assert "without authentication" in result.stderr
    assert "--insecure" in result.stderr


def test_insecure_serving_is_logged_loudly(project: Path) -> None:
    """The real process: the warning reaches the stderr of ``conveyor serve``."""
    result = _cli(project, "serve", "--model", "nosuch@1", "--host", "0.0.0.0", "--insecure")
    assert "INSECURE: serving on 0.0.0.0" in result.stderr
    assert "without authentication" not in result.stderr
    assert result.returncode == 1  # then fails on the model, as without the flag


def test_serving_beyond_loopback_with_token_auth_is_allowed(
    tmp_path: Path, conveyor_in_process: CliInProcess
) -> None:
    assert conveyor_in_process(tmp_path, "init", ".").returncode == 0
    config = tmp_path / "conveyor.yaml"
    config.write_text(config.read_text() + "\nserving:\n  auth: token\n")
    result = conveyor_in_process(tmp_path, "serve", "--model", "nosuch@1", "--host", "0.0.0.0")
    assert "without authentication" not in result.stderr
    assert "INSECURE" not in result.stderr
    assert result.returncode == 1  # the model does not exist


def test_loopback_needs_no_flag(project: Path, conveyor_in_process: CliInProcess) -> None:
    result = conveyor_in_process(project, "serve", "--model", "nosuch@1", "--host", "127.0.0.1")
    assert "without authentication" not in result.stderr


def test_a_second_token_with_a_taken_name_is_refused(
    project: Path, conveyor_in_process: CliInProcess
) -> None:
    first = conveyor_in_process(project, "tokens", "create", "dup", "--role", "viewer")
    assert first.returncode == 0, first.stderr
    second = conveyor_in_process(project, "tokens", "create", "dup", "--role", "admin")
    assert second.returncode == 1, second.stdout
    assert "'dup' exists already" in second.stderr
    assert "cvy_" not in second.stdout + second.stderr
