"""Secrets planted in configuration and the environment appear on no output surface.

Planted: a database password in ``store.metadata_url``, S3 credentials in
``store.storage_options``, a webhook URL with a user, a password and a ``token=`` query,
the webhook signing secret (environment only) and the master key (environment only).
Grepped: stdout and stderr of ``config show``, ``config show --json``, ``config validate``
(valid, invalid and ``--json``), errors of a command whose store is unreachable, the audit
log (CLI and raw database bytes), ``notify.failed`` records, agent events, log records,
and error messages and fields.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from conveyor.cli import main
from conveyor.core import Actor, utcnow
from conveyor.deployments import Variant
from conveyor.notify import NotifyConfigError
from conveyor.store._automation_models import AutomationEventRow
from conveyor.workspace import Workspace

DB_PASSWORD = "dbpass-Q7w1"
S3_SECRET = "s3secret-Zp40"
HOOK_PASSWORD = "hookpass-Lm22"
HOOK_TOKEN = "hooktoken-Rv93"
SIGNING_SECRET = "signing-Ee18"
MASTER_KEY = "ab" * 32
SECRETS = (DB_PASSWORD, S3_SECRET, HOOK_PASSWORD, HOOK_TOKEN, SIGNING_SECRET, MASTER_KEY)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _hook_url(port: int) -> str:
    return f"http://ops:{HOOK_PASSWORD}@127.0.0.1:{port}/hook?token={HOOK_TOKEN}&team=ml"


def _config(port: int, metadata_url: str = "sqlite:///.conveyor/conveyor.db") -> str:
    return f"""
project: {{name: secrets}}
store:
  metadata_url: "{metadata_url}"
  storage_options: {{key: AKIAEXAMPLE, secret: {S3_SECRET}}}
environments:
  staging: {{strategy: replace}}
webhooks:
  allowed_hosts: [127.0.0.1]
  max_attempts: 1
  endpoints:
    - {{url: "{_hook_url(port)}", secret_env: HOOK_SECRET}}
"""


def _assert_clean(*outputs: str | bytes) -> None:
    for output in outputs:
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
        for secret in SECRETS:
            assert secret not in text, f"secret {secret!r} leaked in: {text[:300]}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "conveyor.yaml").write_text(_config(_closed_port()), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOOK_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("CONVEYOR_MASTER_KEY", MASTER_KEY)
    return tmp_path


def test_config_show_and_validate_print_no_secret(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["config", "show"], ["config", "show", "--json"],
                 ["config", "validate"], ["config", "validate", "--json"]):  # fmt: skip
        assert main(args) == 0, args
        out, err = capsys.readouterr()
        _assert_clean(out, err)
        assert "ops:***@127.0.0.1" in out or args[1] == "validate"
    shown = json.loads(_run_cli(project, "config", "show", "--json").stdout)
    assert shown["config"]["store"]["storage_options"] == {"key": "AKIAEXAMPLE", "secret": "***"}


def test_a_database_password_set_in_the_environment_is_not_shown(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://conveyor:{DB_PASSWORD}@127.0.0.1:{_closed_port()}/meta?sslpassword=x"
    monkeypatch.setenv("CONVEYOR_METADATA_URL", url)
    assert main(["config", "show", "--json"]) == 0
    out, err = capsys.readouterr()
    _assert_clean(out, err)
    assert json.loads(out)["config"]["store"]["metadata_url"].startswith(
        "postgresql://conveyor:***@"
    )
    # A command that needs the (unreachable) store fails with one redacted line.
    assert main(["audit", "log"]) == 1
    out, err = capsys.readouterr()
    _assert_clean(out, err)
    assert "Cannot connect to the metadata store" in err


def test_an_invalid_value_is_reported_without_its_secret(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "conveyor.yaml").write_text(
        _config(_closed_port(), metadata_url=f"mysql://root:{DB_PASSWORD}@db/x"), encoding="utf-8"
    )
    for args in (["config", "validate"], ["config", "validate", "--json"], ["config", "show"]):
        assert main(args) == 1, args
        out, err = capsys.readouterr()
        _assert_clean(out, err)
        assert "mysql://root:***@db/x" in out + err


def test_a_failed_webhook_leaves_no_secret_in_audit_logs_or_records(
    project: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), Workspace.open(project) as ws:
        assert ws.notifier().send("deploy.promote", {"environment": "staging"}) == 1
        ws.notifier().flush(timeout=30)
        deliveries = list(ws.notifier().deliveries)
    assert [d.ok for d in deliveries] == [False]
    _assert_clean(repr(deliveries), "\n".join(r.getMessage() for r in caplog.records))
    assert main(["audit", "log", "--json"]) == 0
    out, err = capsys.readouterr()
    _assert_clean(out, err)
    failed = [e for e in json.loads(out) if e["action"] == "notify.failed"]
    assert len(failed) == 1
    shown = r"http://ops:\*\*\*@127\.0\.0\.1:\d+/hook\?token=\*\*\*&team=ml"
    assert re.fullmatch(shown, failed[0]["details"]["url"])
    database = project / ".conveyor"
    _assert_clean(*(p.read_bytes() for p in database.rglob("conveyor.db*") if p.is_file()))


def test_agent_events_are_stored_redacted(project: Path) -> None:
    with Workspace.open(project) as ws:
        with ws.store.write(Actor("agent"), "automation.event", "trigger:t") as tx:
            tx.session.add(
                AutomationEventRow(
                    trigger="t",
                    kind="error",
                    model="m",
                    reason=f"webhook {_hook_url(1)} refused the post",
                    details={"url": _hook_url(1), "password": DB_PASSWORD},
                    parent_id=None,
                    idempotency_key="k-1",
                    at=utcnow(),
                    actor="agent",
                )
            )
        with ws.store.read() as session:
            row = session.scalars(select(AutomationEventRow)).one()
            _assert_clean(row.reason, json.dumps(row.details))
            assert "ops:***@127.0.0.1:1/hook?token=***&team=ml" in row.reason


def test_deployment_history_is_stored_redacted(project: Path) -> None:
    with Workspace.open(project) as ws:
        ws.deployments.transition(
            "staging",
            expected_revision=None,
            action="rollback",
            reason=f"dashboard {_hook_url(2)} showed errors",
            details={"source": _hook_url(2)},
            strategy="replace",
            state="stable",
            variants=(Variant("churn", 1, "champion", 100.0),),
        )
        (kept,) = ws.deployments.history("staging")
        _assert_clean(kept.reason, json.dumps(kept.details))
        assert "ops:***@127.0.0.1:2/hook?token=***&team=ml" in kept.reason


def test_notifier_configuration_errors_carry_no_secret(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_SECRET")
    with (
        Workspace.open(project, env=dict(os.environ)) as ws,
        pytest.raises(NotifyConfigError) as info,
    ):
        ws.notifier()
    _assert_clean(str(info.value), str(info.value.hint), json.dumps(info.value.fields))


def _run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(HOOK_SECRET=SIGNING_SECRET, CONVEYOR_MASTER_KEY=MASTER_KEY)
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    _assert_clean(proc.stdout, proc.stderr)
    return proc
