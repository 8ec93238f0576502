"""With encryption at rest, profile values never reach the database in plaintext."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from palmerpenguins import load_penguins

from conveyor.artifacts import MasterKey, open_artifact_store
from conveyor.core import Actor
from conveyor.data import DatasetRegistry
from conveyor.store import open_store

PLANTED = "PLANTED-island-Zq81"


def _registry(root: Path, key: MasterKey | None) -> DatasetRegistry:
    root.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{root / '.conveyor' / 'conveyor.db'}")
    artifacts = open_artifact_store(
        str(root / ".conveyor" / "artifacts"), master_key=key, encrypt=key is not None
    )
    return DatasetRegistry(store, artifacts, actor=Actor("tester"), root=root)


def _survey() -> pd.DataFrame:
    frame = load_penguins()
    frame.loc[frame.index[:150], "island"] = PLANTED  # the most frequent value
    return frame


def _bytes_under(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_an_encrypted_workspace_keeps_no_profile_value_in_plaintext(tmp_path: Path) -> None:
    key = MasterKey.generate()
    reg = _registry(tmp_path / "enc", key)
    version = reg.add("survey", _survey())
    island = version.profile["columns"]["island"]  # type: ignore[index]
    assert island["top"][0]["value"] == PLANTED
    assert reg.get("survey@1").profile == version.profile
    assert reg.log("survey")[0].profile == version.profile
    reg.store.close()
    stored = _bytes_under(tmp_path / "enc" / ".conveyor")
    assert PLANTED.encode() not in stored
    assert b"Biscoe" not in stored

    remote = open_artifact_store(str(tmp_path / "remote"), master_key=key, encrypt=True)
    reg = _registry(tmp_path / "enc", key)
    reg.push(remote)
    clone = _registry(tmp_path / "clone", key)
    shutil.copy(tmp_path / "enc" / "conveyor.lock", tmp_path / "clone" / "conveyor.lock")
    clone.pull(remote)
    assert clone.get("survey@1").profile == version.profile
    clone.store.close()
    assert PLANTED.encode() not in _bytes_under(tmp_path / "clone" / ".conveyor")


def test_without_encryption_profiles_stay_plain_in_the_database(tmp_path: Path) -> None:
    reg = _registry(tmp_path / "plain", None)
    version = reg.add("survey", _survey())
    assert version.profile["columns"]["island"]["top"][0]["value"] == PLANTED  # type: ignore[index]
    reg.store.close()
    assert not (tmp_path / "plain" / ".conveyor" / "artifacts" / "keys").exists()
    assert PLANTED.encode() in _bytes_under(tmp_path / "plain" / ".conveyor")
