"""Garbage collection: remove unreferenced objects and stale temporary files."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from conveyor.artifacts._listing import scan_objects, scan_temp
from conveyor.artifacts._objects import GcResult
from conveyor.artifacts._writers import TEMP_SUFFIX


def sweep(
    fs: Any,
    *,
    objects_root: str,
    tmp_root: str,
    keep: set[str],
    cutoff: datetime,
    dry_run: bool,
) -> GcResult:
    """Remove every object not in ``keep`` and every temporary file last written before
    ``cutoff``. Objects with an unknown modification time are kept; a file that vanishes
    meanwhile (a concurrent gc) is not an error."""
    removed: list[str] = []
    kept = 0
    freed = 0
    for entry in scan_objects(fs, objects_root):
        if entry.digest in keep or entry.modified is None or entry.modified > cutoff:
            kept += 1
            continue
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(entry.path)
        removed.append(entry.digest)
        freed += entry.stored_size
    for temp in scan_temp(fs, tmp_root, TEMP_SUFFIX):
        if temp.modified is not None and temp.modified <= cutoff:
            if not dry_run:
                with contextlib.suppress(FileNotFoundError):
                    fs.rm_file(temp.path)
            freed += temp.stored_size
    return GcResult(removed=removed, kept=kept, bytes_freed=freed, dry_run=dry_run)
