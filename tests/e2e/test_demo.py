"""``conveyor demo --fast`` plays the walkthrough and checks its own outcome."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_fast_demo_passes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["COLUMNS"] = "200"
    proc = subprocess.run(
        [sys.executable, "-m", "conveyor", "demo", "--fast", "--dir", str(tmp_path / "demo")],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo passed" in proc.stdout
    assert "Restored bytes are identical" in proc.stdout
    assert "hash chain intact" in proc.stdout
