"""Environments with ``require_signature``: only versions validly signed by a configured key
deploy or get promoted there, and no force reason lifts that."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from deploy_support import CONFIG, Clock, ScriptedAnalyzer
from sqlalchemy import text

from conveyor.rollout import Controller, DeployRefusedError, SignatureRequiredError
from conveyor.workspace import Workspace

RELEASE = Ed25519PrivateKey.generate()
STRANGER = Ed25519PrivateKey.generate()


def public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def configure(root: Path, keys: dict[str, str]) -> None:
    listed = ", ".join(f"{name}: {value!r}" for name, value in keys.items())
    (root / "conveyor.yaml").write_text(
        CONFIG
        + "  secure: {strategy: replace, require_signature: true}\n"
        + "  secure-canary: {strategy: canary, require_signature: true, steps: [50, 100],\n"
        + "                  min_requests: 0, min_step_duration_s: 0}\n"
        + "  secure-gated: {strategy: replace, require_signature: true, requires_approval: true}\n"
        + "signing:\n"
        + f"  public_keys: {{{listed}}}\n",
        encoding="utf-8",
    )


def open_ws(root: Path) -> Workspace:
    return Workspace.open(root, actor="alice", env={}, search_parents=False)


@pytest.fixture
def root(model_project: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(model_project, copy)
    configure(copy, {"release": public(RELEASE)})
    return copy


@pytest.fixture
def signed_ws(root: Path) -> Iterator[Workspace]:
    workspace = open_ws(root)
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture
def ctl(signed_ws: Workspace) -> Controller:
    return Controller(signed_ws, clock=Clock(), analyzer=ScriptedAnalyzer())


def test_an_unsigned_version_is_refused_even_with_a_force_reason(
    ctl: Controller, signed_ws: Workspace
) -> None:
    with pytest.raises(SignatureRequiredError, match=r"'secure' requires a signed version") as e:
        ctl.deploy("churn@1", "secure")
    assert "churn@1 has no valid signature" in e.value.message
    assert "it has no signature" in e.value.message
    assert "conveyor models sign churn@1" in (e.value.hint or "")
    assert e.value.code == "signature_required"
    assert isinstance(e.value, DeployRefusedError)
    with pytest.raises(SignatureRequiredError):
        ctl.deploy("churn@1", "secure", force_reason="ship it")
    assert ctl.deployments.current("secure") is None


def test_a_signature_by_an_unconfigured_key_is_refused(
    ctl: Controller, signed_ws: Workspace
) -> None:
    signed_ws.models.sign("churn@1", STRANGER, key_name="stranger")
    with pytest.raises(SignatureRequiredError, match=r"'stranger': valid, but the key is not"):
        ctl.deploy("churn@1", "secure")
    # The configured name with another key is no better.
    signed_ws.models.sign("churn@1", STRANGER, key_name="release")
    with pytest.raises(SignatureRequiredError, match="made with another key"):
        ctl.deploy("churn@1", "secure")
    assert ctl.deployments.current("secure") is None


def test_a_version_signed_by_a_configured_key_deploys(
    ctl: Controller, signed_ws: Workspace
) -> None:
    signed_ws.models.sign("churn@2", RELEASE, key_name="release")
    deployment = ctl.deploy("churn@2", "secure")
    assert [v.ref for v in deployment.live] == ["churn@2"]


def test_an_environment_without_the_flag_deploys_unsigned(ctl: Controller) -> None:
    deployment = ctl.deploy("churn@3", "staging")
    assert [v.ref for v in deployment.live] == ["churn@3"]


def test_a_signature_invalidated_by_a_tampered_record_is_refused(
    ctl: Controller, signed_ws: Workspace
) -> None:
    signed_ws.models.sign("churn@2", RELEASE, key_name="release")
    with signed_ws.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE model_versions SET content_hash = :h WHERE version = 2"), {"h": "f" * 64}
        )
    with pytest.raises(SignatureRequiredError, match="no longer matches the statement"):
        ctl.deploy("churn@2", "secure")


def test_a_candidate_is_not_promoted_once_its_key_is_no_longer_configured(
    root: Path, ctl: Controller, signed_ws: Workspace
) -> None:
    signed_ws.models.sign("churn@1", RELEASE, key_name="release")
    signed_ws.models.sign("churn@2", RELEASE, key_name="release")
    ctl.deploy("churn@1", "secure-canary")
    ctl.deploy("churn@2", "secure-canary")
    configure(root, {"other": public(STRANGER)})
    with open_ws(root) as rotated:
        later = Controller(rotated, clock=Clock(), analyzer=ScriptedAnalyzer())
        with pytest.raises(SignatureRequiredError, match="churn@2"):
            later.promote("secure-canary", reason="looks good")
        assert later.deployments.current("secure-canary").state == "progressing"
    assert ctl.promote("secure-canary", reason="looks good").state == "promoted"


def test_an_approval_rechecks_the_signature(
    root: Path, ctl: Controller, signed_ws: Workspace
) -> None:
    signed_ws.models.sign("churn@3", RELEASE, key_name="release")
    assert ctl.deploy("churn@3", "secure-gated").state == "awaiting_approval"
    configure(root, {})
    with open_ws(root) as rotated:
        later = Controller(rotated, clock=Clock(), analyzer=ScriptedAnalyzer())
        with pytest.raises(SignatureRequiredError, match="keys: none configured"):
            later.approve("secure-gated", reason="ok")
    assert ctl.approve("secure-gated", reason="ok").live[0].ref == "churn@3"
