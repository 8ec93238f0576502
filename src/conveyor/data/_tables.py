"""Turning CSV files, Parquet files and DataFrames into one canonical Parquet object.

A table is stored as exactly one Parquet file written with fixed options and no
producer-specific schema metadata, so the same rows and columns give the same bytes, hence
the same content hash, on every run with the same pyarrow version.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from conveyor.data._table_paths import CSV_SUFFIXES, PARQUET_SUFFIXES, TABLE_FILE, is_table_path
from conveyor.errors import DataSourceError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CSV_SUFFIXES",
    "PARQUET_SUFFIXES",
    "TABLE_FILE",
    "is_table_path",
    "read_parquet_bytes",
    "read_table_file",
    "table_from_dataframe",
    "write_canonical_parquet",
]

_ROW = re.compile(r"Row #(\d+)")
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 20,
    "data_page_size": 1 << 20,
    "version": "2.6",
}


def _canonical(table: pa.Table) -> pa.Table:
    """Drop schema metadata and use the narrow string/binary types, so sources agree."""
    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        elif pa.types.is_large_binary(kind):
            kind = pa.binary()
        fields.append(pa.field(field.name, kind, field.nullable))
    return table.cast(pa.schema(fields)).replace_schema_metadata(None)


def _csv_error(path: Path, exc: pa.ArrowInvalid) -> DataSourceError:
    message = str(exc)
    line: int | None = None
    if "parse error" in message.lower():
        # Threaded parsing does not know row numbers; a serial re-read of the failing
        # file does (only on this error path, so the cost is paid once).
        try:
            pacsv.read_csv(path, read_options=pacsv.ReadOptions(use_threads=False))
        except pa.ArrowInvalid as serial:
            message = str(serial)
        found = _ROW.search(message)
        line = int(found.group(1)) if found else None
    where = f" at line {line}" if line is not None else ""
    return DataSourceError(
        f"Cannot parse CSV file {path}{where}: {message}",
        hint="Fix the file (every row needs the header's number of columns, quotes must "
        "close), or add it as an opaque file by renaming it without the .csv suffix.",
        path=str(path),
        line=line,
    )


def read_table_file(path: Path) -> pa.Table:
    """Read a CSV or Parquet file into an Arrow table.

    Raises:
        DataSourceError: The file is empty, not parsable (naming the line when known),
            or unreadable.
    """
    try:
        if path.suffix.lower() in CSV_SUFFIXES:
            if path.stat().st_size == 0:
                raise DataSourceError(
                    f"CSV file {path} is empty: a table needs at least a header row.",
                    hint="Check that the export that wrote it finished, then add it again.",
                    path=str(path),
                )
            try:
                table = pacsv.read_csv(path)
            except pa.ArrowInvalid as exc:
                if "empty csv" in str(exc).lower():
                    raise DataSourceError(
                        f"CSV file {path} is empty: a table needs at least a header row.",
                        hint="Check that the export that wrote it finished, then add it again.",
                        path=str(path),
                    ) from exc
                raise _csv_error(path, exc) from exc
        else:
            try:
                table = pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataSourceError(
                    f"Cannot read Parquet file {path}: {exc}",
                    hint="Check that the file is complete Parquet (not truncated, not another "
                    "format with a .parquet name).",
                    path=str(path),
                ) from exc
    except PermissionError as exc:
        raise DataSourceError(
            f"Cannot read {path}: permission denied.",
            hint="Grant read permission on the file (chmod u+r) or run as its owner.",
            path=str(path),
        ) from exc
    return _canonical(table)


def table_from_dataframe(frame: pd.DataFrame) -> pa.Table:
    """Convert a DataFrame; a non-default index is kept as ordinary columns.

    Raises:
        DataSourceError: A column holds values Arrow cannot type (mixed objects).
    """
    import pandas as pd

    index = frame.index
    default_index = (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )
    if not default_index:
        frame = frame.reset_index()
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise DataSourceError(
            f"Cannot convert the DataFrame to a table: {exc}",
            hint="Give every column one type (e.g. df[col] = df[col].astype(str)).",
            path="<DataFrame>",
        ) from exc
    return _canonical(table)


def write_canonical_parquet(table: pa.Table, dest: Path) -> None:
    """Write ``table`` to ``dest`` with conveyor's fixed Parquet options."""
    pq.write_table(table, dest, **_WRITE_OPTIONS)


def read_parquet_bytes(data: bytes) -> pa.Table:
    """Read a canonical Parquet object held in memory."""
    return pq.read_table(pa.BufferReader(data))
