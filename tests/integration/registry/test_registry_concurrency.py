"""Versions stay contiguous when several processes register the same model at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.registry import ModelRegistry

_WORKER = """
import sys
from pathlib import Path
from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.registry import ModelRegistry, prepare_files
from conveyor.store import open_store

url, root, worker = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
artifacts = open_artifact_store(str(root / "artifacts"))
with open_store(url) as store:
    registry = ModelRegistry(store, artifacts, actor=Actor("w" + worker), root=root)
    for i in range(3):
        folder = root / f"w{worker}-{i}"
        folder.mkdir()
        (folder / "model.bin").write_bytes(f"{worker}-{i}".encode())
        prepared = prepare_files(artifacts, folder, flavor="raw", flavor_meta={})
        registry.record("churn", prepared)
"""


@pytest.mark.slow
def test_four_processes_registering_get_contiguous_versions(
    metadata_url: str, registry: ModelRegistry, tmp_path: Path
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, metadata_url, str(tmp_path), str(w)],
            stderr=subprocess.PIPE,
        )
        for w in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    versions = registry.versions("churn")
    assert sorted(v.version for v in versions) == list(range(1, 13))
    assert len({v.content_hash for v in versions}) == 12
    assert len(registry.store.audit_log(action="model.register")) == 12
