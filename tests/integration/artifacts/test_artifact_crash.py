"""A writer killed with SIGKILL in the middle of put_file leaves no broken object behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from conveyor.artifacts import MasterKey, open_artifact_store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")

# The encrypted run slows its progress callback so the kill surely lands mid-write;
# the plain run uses the kernel copy and is killed as soon as its temporary file appears.
_WRITER = """
import sys, time
from conveyor.artifacts import MasterKey, open_artifact_store
root, source, key = sys.argv[1], sys.argv[2], sys.argv[3]
master = MasterKey.parse(key) if key else None
store = open_artifact_store(root, master_key=master, encrypt=master is not None)
store.put_file(source, progress=lambda *_: time.sleep(0.05) if master else None)
"""


def _big_file(path: Path, mib: int) -> None:
    block = os.urandom(1024 * 1024)
    with path.open("wb") as handle:
        for i in range(mib):
            handle.write(i.to_bytes(8, "big") + block[8:])


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_sigkill_during_put_file_publishes_no_broken_object(
    tmp_path: Path, encrypted: bool
) -> None:
    source = tmp_path / "big.bin"
    _big_file(source, 200)
    root = tmp_path / "store"
    key = MasterKey.generate() if encrypted else None
    args = [sys.executable, "-c", _WRITER, str(root), str(source), key.to_text() if key else ""]
    proc = subprocess.Popen(args)
    temp_dir = root / "tmp"
    try:
        deadline = time.monotonic() + 60
        while not (temp_dir.is_dir() and any(temp_dir.glob("*.part"))):
            assert proc.poll() is None, "the writer ended without ever writing a temporary file"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()

    store = open_artifact_store(str(root), master_key=key)
    leftovers = list(temp_dir.glob("*.part"))
    objects = list(store.iter_objects())
    for info in objects:  # anything under a final name is complete and verifies
        store.get_file(info.hash, tmp_path / "check.bin")
        assert info.size == source.stat().st_size
    if encrypted:
        assert leftovers, "the kill was meant to land mid-write"
    if leftovers:
        assert objects == []
        partial = sum(p.stat().st_size for p in leftovers)
        result = store.gc(set(), grace=timedelta(0))
        assert result.bytes_freed == partial
        assert list(temp_dir.glob("*.part")) == []
