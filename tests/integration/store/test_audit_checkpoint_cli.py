"""``conveyor audit checkpoint`` and ``audit verify --public-key/--anchor`` on a real project."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from conveyor.cli._audit import app
from conveyor.core import Actor
from conveyor.store import AuditKeyError, open_store


@pytest.fixture
def project(tmp_path: Path, metadata_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "conveyor.yaml").write_text(
        f"project: {{name: audit-cli}}\nstore: {{metadata_url: '{metadata_url}'}}\n",
        encoding="utf-8",
    )
    with open_store(metadata_url) as store:
        for i in range(4):
            store.record_event(Actor("alice"), "test.event", f"thing:{i}")
    monkeypatch.chdir(root)
    return root


def key_files(folder: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = folder / "audit.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public = folder / "audit.pub"
    public.write_text(base64.b64encode(raw).decode() + "\n")
    return private, public


def delete_newest(metadata_url: str, n: int, *, checkpoints_too: bool = False) -> None:
    with open_store(metadata_url) as store, store.engine.begin() as conn:
        last = conn.execute(text("SELECT max(seq) FROM audit_events")).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq > :keep"), {"keep": last - n})
        if checkpoints_too:
            conn.execute(text("DELETE FROM audit_checkpoints"))


def test_checkpoint_then_truncation_is_reported_with_exit_3(
    project: Path, metadata_url: str
) -> None:
    private, public = key_files(project)
    runner = CliRunner()
    made = runner.invoke(app, ["checkpoint", "--key", str(private), "--json"])
    assert made.exit_code == 0, made.output
    body = json.loads(made.stdout)
    assert body["public_key"] == public.read_text().strip()
    seq = body["seq"]

    intact = runner.invoke(app, ["verify", "--public-key", str(public)])
    assert intact.exit_code == 0, intact.output
    assert "1 checkpoint(s) hold" in intact.stdout
    assert "signatures verified" in intact.stdout

    delete_newest(metadata_url, 2)
    broken = runner.invoke(app, ["verify", "--public-key", str(public)], env={"COLUMNS": "300"})
    assert broken.exit_code == 3, broken.output
    assert f"events after #{seq - 2} were removed" in broken.stdout
    assert f"vouches for #{seq})" in broken.stdout
    plain = runner.invoke(app, ["verify"])  # the stored checkpoint alone tells too
    assert plain.exit_code == 3


def test_the_anchor_file_catches_deleted_checkpoint_rows(
    project: Path, metadata_url: str, tmp_path: Path
) -> None:
    private, public = key_files(project)
    anchor = tmp_path / "elsewhere.json"
    runner = CliRunner()
    made = runner.invoke(app, ["checkpoint", "--key", str(private), "--anchor", str(anchor)])
    assert made.exit_code == 0, made.output
    assert "signed by key" in made.stdout
    assert json.loads(anchor.read_text())["kind"] == "conveyor.audit.checkpoint"

    delete_newest(metadata_url, 2, checkpoints_too=True)
    assert runner.invoke(app, ["verify", "--public-key", str(public)]).exit_code == 0
    broken = runner.invoke(
        app, ["verify", "--public-key", str(public), "--anchor", str(anchor), "--json"]
    )
    assert broken.exit_code == 3, broken.output
    result = json.loads(broken.stdout)
    assert result["ok"] is False
    assert "the anchor checkpoint of" in result["reason"]


def test_a_malformed_key_file_is_a_clear_error(project: Path) -> None:
    bad = project / "bad.key"
    bad.write_text("definitely not a key")
    result = CliRunner().invoke(app, ["checkpoint", "--key", str(bad)])
    assert result.exit_code != 0
    assert isinstance(result.exception, AuditKeyError)
    assert str(bad) in str(result.exception)
