"""A 1 GiB ``data add`` runs in bounded memory: hashing maps one window of the file at a
time and the copy into the store is made by the kernel, so the process's peak resident
size grows by a small, fixed amount whatever the file's size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GIB = 1024 * 1024 * 1024
#: The peak may grow by this much over the interpreter with conveyor imported; a file
#: mapped whole (or read into memory) would add 1 GiB.
BOUND = 256 * 1024 * 1024

_SCRIPT = """
import json, os, resource, sys
from pathlib import Path

from conveyor.workspace import Workspace, init_project

project = Path(sys.argv[1])
size = int(sys.argv[2])
init_project(project, name="large")
big = project / "big.bin"
chunk = os.urandom(16 * 1024 * 1024)
with big.open("wb") as fh:
    for _ in range(size // len(chunk)):
        fh.write(chunk)
with Workspace.open(project) as ws:
    ws.datasets.list()  # everything the add needs is imported and connected
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    version = ws.datasets.add("big", big)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    again = ws.datasets.add("big", big)
    stored = ws.artifacts.info(ws.datasets.manifest(version)["files"]["big.bin"]["hash"])
print(json.dumps({
    "before": before, "after": after, "size": version.size_bytes,
    "stored": stored.size, "unchanged": again.unchanged,
}))
"""


@pytest.mark.slow
def test_adding_a_1_gib_file_keeps_memory_bounded(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "project"), str(GIB)],
        capture_output=True,
        text=True,
        check=True,
        timeout=280,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["size"] == result["stored"] == GIB
    assert result["unchanged"]
    grown = result["after"] - result["before"]
    assert grown < BOUND, f"peak RSS grew by {grown / 2**20:.0f} MiB adding 1 GiB"
