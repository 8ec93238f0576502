"""Preparing what ``data add`` versions: a table, a single file or a folder.

Preparation reads and hashes the source (tables are first rewritten as canonical Parquet
in a temporary file, those beyond ``conveyor.data._tables.STREAM_BYTES`` one record batch
at a time) but stores nothing; the registry then compares the result with the
latest version and uploads only if the content is new.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import ProgressCallback, hash_file, isoformat
from conveyor.data._manifest import MANIFEST_FORMAT, check_relpath
from conveyor.data._scan import AddStats, SourceFile, hash_files, list_folder
from conveyor.data._state import StateCache
from conveyor.data._table_paths import TABLE_FILE, is_table_path
from conveyor.errors import DataSourceError, IntegrityError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

DATAFRAME_SOURCE = "<DataFrame>"


@dataclass
class PreparedContent:
    """The hashed content of a would-be version."""

    kind: str
    files: list[SourceFile]
    source: str
    schema: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None
    row_count: int | None = None
    temp_files: list[Path] = field(default_factory=list)
    #: The file a table was read from, kept byte for byte (``None`` for DataFrames).
    original: SourceFile | None = None

    def manifest_files(self) -> dict[str, dict[str, Any]]:
        """``{relpath: {"hash", "size"}}`` as written to the manifest."""
        return {f.relpath: {"hash": f.hash, "size": f.size} for f in self.files}

    def manifest_original(self) -> dict[str, Any] | None:
        """The manifest's ``original`` entry (``{"name", "hash", "size"}``), or ``None``."""
        if self.original is None:
            return None
        return {
            "name": self.original.relpath,
            "hash": self.original.hash,
            "size": self.original.size,
        }

    def manifest(
        self,
        name: str,
        version: int,
        *,
        parent: tuple[int, str] | None,
        now: datetime,
        actor: str,
        message: str | None,
    ) -> dict[str, Any]:
        """The manifest of this content recorded as ``name@version``.

        Args:
            name: Dataset name.
            version: The version number it gets.
            parent: ``(version, content_hash)`` of the version it follows, if any.
            now: The recording time (UTC).
            actor: Who records it.
            message: What changed.
        """
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "name": name,
            "version": version,
            "kind": self.kind,
            "files": self.manifest_files(),
            "schema": self.schema,
            "profile": self.profile,
            "row_count": self.row_count,
            "parent": None if parent is None else {"version": parent[0], "content_hash": parent[1]},
            "created_at": isoformat(now),
            "created_by": actor,
            "message": message,
            "source": self.source,
        }
        if self.original is not None:
            manifest["original"] = self.manifest_original()
        return manifest

    def objects(self) -> list[SourceFile]:
        """Every file whose bytes the version stores (the original too, for tables)."""
        return [*self.files, *([self.original] if self.original is not None else [])]

    def cleanup(self) -> None:
        """Delete temporary files (the canonical Parquet of a table)."""
        for path in self.temp_files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _missing(path: Path) -> DataSourceError:
    if path.is_symlink():
        return DataSourceError(
            f"Cannot add {path}: it is a symbolic link to {os.readlink(path)!r}, which does "
            "not exist.",
            hint="Point the link at an existing file or folder, or pass the target path.",
            path=str(path),
        )
    return DataSourceError(
        f"Cannot add {path}: no such file or folder.",
        hint="Check the path (relative paths are resolved against the current folder).",
        path=str(path),
    )


def _temp_table(tmp_dir: Path) -> Path:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="table-", suffix=".parquet", dir=tmp_dir)
    os.close(fd)
    return Path(name)


def _table_content(table: pa.Table, source: str, tmp_dir: Path) -> PreparedContent:
    from conveyor.data._profile import compute_profile
    from conveyor.data._tables import write_canonical_parquet

    temp = _temp_table(tmp_dir)
    try:
        write_canonical_parquet(table, temp)
        entry = SourceFile(TABLE_FILE, temp, temp.stat().st_size, hash_file(temp))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    profile = compute_profile(table)
    return PreparedContent(
        kind="table",
        files=[entry],
        source=source,
        schema=profile["schema"],
        profile=profile,
        row_count=table.num_rows,
        temp_files=[temp],
    )


def _streamed_table_content(path: Path, tmp_dir: Path) -> PreparedContent:
    """A table file beyond ``STREAM_BYTES``: written and profiled one batch at a time."""
    from conveyor.data._tables import stream_table_file

    temp = _temp_table(tmp_dir)
    try:
        profile = stream_table_file(path, temp)
        entry = SourceFile(TABLE_FILE, temp, temp.stat().st_size, hash_file(temp))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return PreparedContent(
        kind="table",
        files=[entry],
        source=str(path),
        schema=profile["schema"],
        profile=profile,
        row_count=profile["row_count"],
        temp_files=[temp],
    )


def _checked(files: list[SourceFile], folder: Path) -> list[SourceFile]:
    for entry in files:
        try:
            check_relpath(entry.relpath)
        except IntegrityError as exc:
            raise DataSourceError(
                f"Cannot add {folder / entry.relpath}: its name cannot be stored portably "
                "(backslash or control character).",
                hint="Rename the file, then add again.",
                path=str(folder / entry.relpath),
            ) from exc
    return files


def prepare(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    tmp_dir: Path,
    cache_path: Path,
    stats: AddStats,
    progress: ProgressCallback | None = None,
) -> PreparedContent:
    """Read and hash ``source`` into a :class:`PreparedContent`.

    Raises:
        DataSourceError: The path is missing, a dangling link, unreadable, an empty or
            malformed table, or a folder without files.
    """
    if not isinstance(source, str | os.PathLike):
        import pandas as pd

        if not isinstance(source, pd.DataFrame):
            raise DataSourceError(
                f"Cannot add a {type(source).__name__}: expected a path or a pandas DataFrame.",
                hint="Pass a file or folder path, or a pandas.DataFrame.",
                path=repr(source)[:80],
            )
        from conveyor.data._tables import table_from_dataframe

        content = _table_content(table_from_dataframe(source), DATAFRAME_SOURCE, tmp_dir)
        stats.files, stats.hashed_files = 1, 1
        return content
    path = Path(source).expanduser().absolute()
    if not path.exists():
        raise _missing(path)
    if path.is_dir():
        listed, stats.skipped_links = list_folder(path)
        if not listed:
            skipped = f" ({stats.skipped_links} links skipped)" if stats.skipped_links else ""
            raise DataSourceError(
                f"Folder {path} has no files to version{skipped}.",
                hint="Add files to it first (.conveyor and .git folders are not included).",
                path=str(path),
            )
        with StateCache(cache_path) as cache:
            files = hash_files(listed, cache, stats, progress)
        return PreparedContent("folder", _checked(files, path), str(path))
    if not path.is_file():
        raise DataSourceError(
            f"Cannot add {path}: it is neither a regular file nor a folder.",
            hint="Pass a file or a folder (devices, sockets and pipes cannot be versioned).",
            path=str(path),
        )
    if is_table_path(path):
        if not os.access(path, os.R_OK):
            raise DataSourceError(
                f"Cannot read {path}: permission denied.",
                hint="Grant read permission on the file (chmod u+r) or run as its owner.",
                path=str(path),
            )
        from conveyor.data._tables import read_table_file, streams  # pyarrow, tables only

        if streams(path):
            content = _streamed_table_content(path, tmp_dir)
        else:
            content = _table_content(read_table_file(path), str(path), tmp_dir)
        with StateCache(cache_path) as cache:
            (original,) = hash_files([(path.name, path, path.stat())], cache, stats, progress)
        content.original = _checked([original], path.parent)[0]
        stats.files, stats.hashed_files = 1, 1
        return content
    with StateCache(cache_path) as cache:
        files = hash_files([(path.name, path, path.stat())], cache, stats, progress)
    return PreparedContent("file", _checked(files, path.parent), str(path))


def reap_stale_temp(tmp_dir: Path, older_than: timedelta) -> int:
    """Delete the files in ``tmp_dir`` last written more than ``older_than`` ago.

    Only this package writes there (the canonical Parquet of a table being added, for
    minutes); older files are leftovers of killed adds. A file removed meanwhile by a
    concurrent reaper is not an error.

    Returns:
        The number of bytes freed.
    """
    cutoff = time.time() - older_than.total_seconds()
    freed = 0
    try:
        entries = list(os.scandir(tmp_dir))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(FileNotFoundError):
            info = entry.stat(follow_symlinks=False)
            if info.st_mtime < cutoff:
                os.unlink(entry.path)
                freed += info.st_size
    return freed
