"""End to end: ``models sign`` and ``models verify`` on a registered model, keys as base64
or PEM, tampering caught with exit 3, and deploys to a signature-requiring environment."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_in_process import CliInProcess
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REGISTER = """
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from conveyor.workspace import Workspace

rng = np.random.default_rng(0)
frame = pd.DataFrame({"age": rng.uniform(18, 80, 40), "spend": rng.uniform(0, 100, 40)})
model = LogisticRegression().fit(frame, (frame["spend"] > 50).astype(int))
with Workspace.open(".") as ws:
    for _ in range(2):
        ws.models.register("churn", model, input_example=frame.head(3), explain=False, onnx=False)
"""


def run(cwd: Path, *argv: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="e2e")
    proc = subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=180,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


def cli(cwd: Path, *argv: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    return run(cwd, "-m", "conveyor", *argv, code=code)


def public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def raw_text(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.b64encode(raw).decode()


@pytest.mark.slow
def test_sign_verify_and_deploy_through_the_cli(tmp_path: Path) -> None:
    release, pem_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    cli(tmp_path, "init", "proj")
    project = tmp_path / "proj"
    with (project / "conveyor.yaml").open("a", encoding="utf-8") as config:
        config.write(
            "\nenvironments:\n"
            "  production: {strategy: replace, require_signature: true}\n"
            "  dev: {strategy: replace}\n"
            f"signing:\n  public_keys: {{release: {public(release)!r}}}\n"
        )
    (project / "register.py").write_text(REGISTER, encoding="utf-8")
    run(project, "register.py")

    refused = cli(project, "deploy", "churn@1", "--env", "production", code=1)
    assert "requires a signed version" in refused.stderr
    cli(project, "deploy", "churn@1", "--env", "dev")

    key_file = tmp_path / "release.key"
    key_file.write_text(raw_text(release) + "\n", encoding="utf-8")
    signed = cli(project, "models", "sign", "churn@1", "--key", str(key_file), "--json")
    record = json.loads(signed.stdout)
    assert (record["key_name"], record["version"]) == ("release", 1)
    assert record["public_key"] == public(release)
    assert raw_text(release) not in signed.stdout + signed.stderr

    pem_file = tmp_path / "ops.pem"
    pem_file.write_bytes(
        pem_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cli(project, "models", "sign", "churn@1", "--key", str(pem_file), "--key-name", "ops")

    checked = json.loads(cli(project, "models", "verify", "churn@1", "--json").stdout)
    assert checked["trusted_keys"] == ["release"]
    assert [(s["key_name"], s["valid"], s["configured"]) for s in checked["signatures"]] == [
        ("release", True, True),
        ("ops", True, False),
    ]
    text = cli(project, "models", "verify", "churn@1").stdout
    assert "trusted: signed by release" in text
    assert "not configured under signing.public_keys" in text
    card = cli(project, "models", "card", "churn@1").stdout
    assert "## Signatures" in card
    assert public(release) in card

    cli(project, "deploy", "churn@1", "--env", "production")
    assert "is not signed" in cli(project, "models", "verify", "churn@2").stdout

    with sqlite3.connect(project / ".conveyor" / "conveyor.db") as db:
        db.execute("UPDATE model_versions SET content_hash = ? WHERE version = 1", ("e" * 64,))
    tampered = cli(project, "models", "verify", "churn@1", code=3)
    assert "do not verify" in tampered.stderr
    assert "no longer matches the statement" in tampered.stdout
    as_json = cli(project, "models", "verify", "churn@1", "--json", code=3)
    assert json.loads(as_json.stdout)["trusted"] is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key at all", "neither PEM nor base64 of 32 bytes"),
        (base64.b64encode(b"x" * 31), "neither PEM nor base64 of 32 bytes"),
        (b"\xff\xfe\x00bad utf-8", "neither PEM nor base64 of 32 bytes"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not an unencrypted"),
        (b"A" * 20_000, "too large for a key"),
    ],
)
def test_a_bad_key_file_is_refused_without_showing_it(
    tmp_path: Path, conveyor_in_process: CliInProcess, content: bytes, message: str
) -> None:
    assert conveyor_in_process(tmp_path, "init", "proj").returncode == 0
    key_file = tmp_path / "bad.key"
    key_file.write_bytes(content)
    refused = conveyor_in_process(
        tmp_path / "proj", "models", "sign", "churn@1", "--key", str(key_file)
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert message in refused.stderr
    assert "AAAA" not in refused.stderr
