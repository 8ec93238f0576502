"""Workspace: store resolution from configuration, encryption at rest, gc and audit."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from conveyor.artifacts import MasterKey
from conveyor.errors import EncryptionKeyError
from conveyor.workspace import Workspace, init_project


def _frame(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame({"x": range(n), "label": ["secret-plaintext-marker"] * n})


def test_open_without_config_uses_embedded_defaults(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, env={}) as ws:
        assert ws.store.dialect == "sqlite"
        assert ws.store.url.endswith(".conveyor/conveyor.db")
        assert ws.artifacts.url == str(tmp_path / ".conveyor" / "artifacts")
        assert ws.actor.name


def test_open_finds_the_project_from_a_subfolder(tmp_path: Path) -> None:
    init_project(tmp_path, name="shop")
    sub = tmp_path / "notebooks" / "eda"
    sub.mkdir(parents=True)
    with Workspace.open(sub, env={}) as ws:
        assert ws.root == tmp_path
        assert ws.settings.config.project.name == "shop"


def test_postgres_metadata_by_environment(tmp_path: Path, pg_url: str) -> None:
    env = {"CONVEYOR_METADATA_URL": pg_url, "CONVEYOR_ACTOR": "alice"}
    with Workspace.open(tmp_path, env=env) as ws:
        assert ws.store.dialect == "postgresql"
        version = ws.datasets.add("orders", _frame())
        assert version.version == 1
        events = ws.audit_log(action="data.add")
        assert [e.actor for e in events] == ["alice"]
        assert ws.verify_audit().ok


def test_s3_artifacts_by_configuration(
    tmp_path: Path, s3_bucket: tuple[str, dict[str, object]]
) -> None:
    url, options = s3_bucket
    (tmp_path / "conveyor.yaml").write_text(
        f"store:\n  artifact_url: {url}\n"
        f"  storage_options: {{endpoint_url: '{options['endpoint_url']}',"
        " key: testing, secret: testing}\n"
    )
    with Workspace.open(tmp_path, env={}) as ws:
        assert ws.artifacts.url.startswith("s3://")
        ws.datasets.add("orders", _frame())
        assert ws.datasets.load("orders@1").equals(_frame())


def test_encryption_at_rest_seals_objects_and_needs_the_key(tmp_path: Path) -> None:
    key = MasterKey.generate().to_text()
    init_project(tmp_path, name="vault")
    config = tmp_path / "conveyor.yaml"
    config.write_text(config.read_text().replace("enabled: false", "enabled: true"))

    with pytest.raises(EncryptionKeyError, match="no master key is set"):
        Workspace.open(tmp_path, env={})

    with Workspace.open(tmp_path, env={"CONVEYOR_MASTER_KEY": key}) as ws:
        ws.datasets.add("orders", _frame())
        assert ws.datasets.load("orders").equals(_frame())
    stored = [
        p for p in (tmp_path / ".conveyor" / "artifacts" / "objects").rglob("*") if p.is_file()
    ]
    assert stored
    assert not any(b"secret-plaintext-marker" in p.read_bytes() for p in stored)

    other = MasterKey.generate().to_text()
    with (
        Workspace.open(tmp_path, env={"CONVEYOR_MASTER_KEY": other}) as ws,
        pytest.raises(EncryptionKeyError, match="encrypted with key"),
    ):
        ws.datasets.load("orders")


def test_gc_removes_only_unreferenced_old_objects_and_is_audited(tmp_path: Path) -> None:
    with Workspace.open(tmp_path, env={}) as ws:
        ws.datasets.add("orders", _frame())
        orphan = ws.artifacts.put_bytes(b"nobody points at me")
        objects = tmp_path / ".conveyor" / "artifacts" / "objects"
        for path in objects.rglob("*"):
            if path.is_file():
                os.utime(path, (0, 0))
        preview = ws.gc(dry_run=True)
        assert preview.removed == [orphan.hash]
        assert ws.artifacts.exists(orphan.hash)

        result = ws.gc(grace=timedelta(hours=1))
        assert result.removed == [orphan.hash]
        assert not ws.artifacts.exists(orphan.hash)
        assert ws.datasets.load("orders@1").equals(_frame())
        assert [e.action for e in ws.audit_log()][-1] == "artifacts.gc"
        assert ws.verify_audit().ok


def test_remote_requires_a_url_or_configuration(tmp_path: Path) -> None:
    from conveyor.errors import ConfigError

    with Workspace.open(tmp_path, env={}) as ws:
        with pytest.raises(ConfigError, match=r"store\.remote_url is not configured") as info:
            ws.open_remote()
        assert info.value.hint is not None
        assert "--remote" in info.value.hint
