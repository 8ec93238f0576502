"""Exporting a table version to another format on request (``checkout --format csv``)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pyarrow.csv as pacsv

from conveyor.artifacts import ArtifactStore
from conveyor.core import ProgressCallback
from conveyor.data._tables import read_parquet_bytes


def export_csv(
    artifacts: ArtifactStore,
    parquet_hash: str,
    dest: Path,
    *,
    progress: ProgressCallback | None = None,
) -> None:
    """Write the canonical Parquet object ``parquet_hash`` to ``dest`` as CSV, atomically.

    The Parquet bytes are verified on read; the CSV goes to a temporary file next to
    ``dest`` that replaces it only once complete.

    Raises:
        ArtifactNotFoundError, IntegrityError: as :meth:`ArtifactStore.get_bytes`.
    """
    table = read_parquet_bytes(artifacts.get_bytes(parquet_hash))
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    temp = Path(name)
    try:
        pacsv.write_csv(table, temp)
        os.replace(temp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    if progress is not None:
        size = dest.stat().st_size
        progress("Exporting", size, size)
