"""End to end: ``keys rotate`` on an encrypted project; data stays readable, audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from palmerpenguins import load_penguins

from conveyor.artifacts import MasterKey


def run(
    cwd: Path, argv: list[str], key: MasterKey, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_ACTOR="e2e", CONVEYOR_ENCRYPTION="true", CONVEYOR_MASTER_KEY=key.to_text())
    env.update(extra)
    proc = subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_keys_rotate_rewraps_every_object_and_the_new_key_reads_the_data(tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    cli = ["-m", "conveyor"]
    run(tmp_path, [*cli, "init", "enc"], old)
    project = tmp_path / "enc"
    load_penguins().to_csv(project / "penguins.csv", index=False)
    run(project, [*cli, "data", "add", "penguins", "penguins.csv"], old)
    key_file = tmp_path / "new.key"
    key_file.write_text(new.to_text())

    rotated = run(
        project,
        ["-m", "conveyor", "keys", "rotate", "--new-key-file", str(key_file), "--json"],
        old,
    )
    summary = json.loads(rotated.stdout)
    assert summary["new_fingerprint"] == new.fingerprint
    assert summary["rewrapped"] >= 3  # manifest, canonical Parquet, original CSV
    assert summary["verified"] == summary["rewrapped"]
    assert new.to_text() not in rotated.stdout + rotated.stderr

    out = project / "back.csv"
    run(project, [*cli, "data", "checkout", "penguins@1", str(out)], new)
    assert out.read_bytes() == (project / "penguins.csv").read_bytes()
    events = json.loads(run(project, [*cli, "audit", "log", "--json"], new).stdout)
    rotations = [e for e in events if e["action"] == "keys.rotate"]
    assert len(rotations) == 1
    assert rotations[0]["details"]["old_fingerprint"] == old.fingerprint
