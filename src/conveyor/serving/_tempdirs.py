"""The temporary folders of loaded model versions: closed at stop, stale ones reaped at start.

The registry writes each loaded version's verified files to a private folder in the system
temporary directory (``conveyor-<model>-<version>-<random>``) and removes it when the
loaded model is closed or collected. A server that is killed never gets to do that, so a
server marks each folder it holds with its process id, closes what it loaded when it
stops, and at start removes folders whose marking process is gone (and unmarked ones a
day old). Only folders of the current user whose name has that exact shape are touched.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conveyor.core import pid_alive

#: The file naming the process that holds a folder.
MARKER = ".conveyor-server-pid"
#: Unmarked folders (left by other commands) older than this are reaped too.
UNMARKED_MAX_AGE_S = 24 * 3600.0
_NAME = re.compile(r"conveyor-[A-Za-z0-9][A-Za-z0-9._-]*-[0-9]+-[a-z0-9_]{8}")
_log = logging.getLogger("conveyor.serving")


def mark_folder(folder: Path) -> None:
    """Record this process as the holder of ``folder`` (best effort)."""
    try:
        (folder / MARKER).write_text(str(os.getpid()), encoding="ascii")
    except OSError as exc:
        _log.debug("Could not mark %s: %s", folder, exc)


def close_all(loaded: Iterable[Any]) -> None:
    """Close every loaded model in ``loaded`` (removing its temporary folder)."""
    for model in list(loaded):
        model.close()


def reap_stale_folders(root: Path | None = None, *, now: float | None = None) -> int:
    """Remove model folders in ``root`` (the system temp dir) no live process holds.

    Returns:
        How many folders were removed.
    """
    base = Path(tempfile.gettempdir()) if root is None else root
    now = time.time() if now is None else now
    removed = 0
    try:
        entries = list(os.scandir(base))
    except OSError:
        return 0
    for entry in entries:
        if not _NAME.fullmatch(entry.name) or not _is_stale(entry, now):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += not os.path.exists(entry.path)
    if removed:
        _log.info("Removed %d stale model folder(s) from %s.", removed, base)
    return removed


def _is_stale(entry: os.DirEntry[str], now: float) -> bool:
    try:
        info = entry.stat(follow_symlinks=False)
        if not entry.is_dir(follow_symlinks=False) or info.st_uid != os.getuid():
            return False
        marker = Path(entry.path) / MARKER
        if marker.is_file():
            text = marker.read_text(encoding="ascii", errors="replace").strip()
            return not (text.isdigit() and pid_alive(int(text)))
    except OSError:
        return False
    return now - info.st_mtime > UNMARKED_MAX_AGE_S
