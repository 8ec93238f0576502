"""The server enforces an environment's rules whatever the client's configuration says.

The server's ``conveyor.yaml`` makes production protected and signature-only; a clone
whose own configuration says neither still cannot deploy there with a developer token,
nor deploy an unsigned version with a deployer's, because the server checks the change
against its own configuration before recording it.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sklearn.linear_model import LogisticRegression

from conveyor.rollout import Controller, SignatureRequiredError
from conveyor.security import AccessDeniedError
from conveyor.workspace import Workspace
from server_support import Server, control_plane

RELEASE = Ed25519PrivateKey.generate()
LAX = "project: {name: shop}\nenvironments:\n  production: {strategy: replace}\n"


def _public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@pytest.fixture
def server(tmp_path: Path) -> Server:
    root = tmp_path / "server"
    root.mkdir()
    (root / "conveyor.yaml").write_text(
        "project: {name: shop}\n"
        "environments:\n"
        "  production: {strategy: replace, protected: true, require_signature: true}\n"
        f"signing:\n  public_keys: {{release: {_public(RELEASE)!r}}}\n",
        encoding="utf-8",
    )
    with Workspace.open(root, env={}) as ws, control_plane(ws) as running:
        yield running  # type: ignore[misc]


def _clone(tmp_path: Path, name: str, server: Server, token: str) -> Workspace:
    root = tmp_path / name
    root.mkdir()
    (root / "conveyor.yaml").write_text(LAX, encoding="utf-8")
    env = {"CONVEYOR_SERVER_URL": server.url, "CONVEYOR_TOKEN": token}
    return Workspace.open(root, env=env, search_parents=False)


def test_protected_and_signature_rules_hold_on_the_server(server: Server, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    with _clone(tmp_path, "dev", server, server.token("dev", "developer")) as dev:
        ref = dev.models.register("churn", model, input_example=frame[["x"]]).ref
        with pytest.raises(AccessDeniedError, match="protected"):
            Controller(dev).deploy(ref, "production")
    assert server.ws.deployments.current("production") is None

    with _clone(tmp_path, "rel", server, server.token("rel", "deployer")) as rel:
        with pytest.raises(SignatureRequiredError, match="requires a signed version"):
            Controller(rel).deploy(ref, "production")
        assert server.ws.deployments.current("production") is None
        rel.models.sign(ref, RELEASE, key_name="release")
        Controller(rel).deploy(ref, "production")
    current = server.ws.deployments.current("production")
    assert current is not None
    assert current.full is not None
    assert current.full.ref == ref
    assert [e.actor for e in server.ws.audit_log() if e.action.startswith("deploy.")] == [
        "token:rel"
    ]
