"""Turning CSV files, Parquet files and DataFrames into one canonical Parquet object.

A table is stored as exactly one Parquet file written with fixed options and no
producer-specific schema metadata, so the same rows and columns give the same bytes, hence
the same content hash, on every run with the same pyarrow version.

Tables up to :data:`STREAM_BYTES` are read whole and written in row groups of
``2**20`` rows. Larger ones are streamed (:func:`stream_table_file`): read one record
batch at a time (:data:`~conveyor.data._profile_stream.BATCH_ROWS` rows of a Parquet
file, :data:`CSV_BLOCK_BYTES` of a CSV file), each batch written as one row group and
profiled in the same pass, so the table never sits in memory. The row groups follow the
stream, so the bytes are still the same for the same input file and pyarrow version, but
differ from what the whole-table path would write.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
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
    "CSV_BLOCK_BYTES",
    "CSV_SUFFIXES",
    "PARQUET_SUFFIXES",
    "READ_BUFFER_BYTES",
    "STREAM_BYTES",
    "TABLE_FILE",
    "is_table_path",
    "read_parquet_bytes",
    "read_table_file",
    "stream_table_file",
    "streams",
    "table_from_dataframe",
    "table_size",
    "write_canonical_parquet",
]

#: Tables larger than this (see :func:`table_size`) are streamed, not read whole.
STREAM_BYTES = 64 * 1024 * 1024
#: Bytes of CSV text per streamed block. Column types are inferred from the first block
#: and then fixed, so a large block sees more values before it decides.
CSV_BLOCK_BYTES = 16 * 1024 * 1024
#: Bytes read at a time from a streamed Parquet column chunk (else a chunk is read whole).
READ_BUFFER_BYTES = 1024 * 1024

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


def _canonical_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` without metadata and with the narrow string/binary types."""
    fields = []
    for field in schema:
        kind = field.type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        elif pa.types.is_large_binary(kind):
            kind = pa.binary()
        fields.append(pa.field(field.name, kind, field.nullable))
    return pa.schema(fields)


def _canonical(table: pa.Table) -> pa.Table:
    """Drop schema metadata and use the narrow string/binary types, so sources agree."""
    return table.cast(_canonical_schema(table.schema)).replace_schema_metadata(None)


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


def _parquet_error(path: Path, exc: BaseException, where: str = "") -> DataSourceError:
    return DataSourceError(
        f"Cannot read Parquet file {path}{where}: {exc}",
        hint="Check that the file is complete Parquet (not truncated, not another "
        "format with a .parquet name).",
        path=str(path),
    )


def table_size(path: Path) -> int:
    """The size that decides whether ``path`` is streamed: compared with :data:`STREAM_BYTES`.

    A CSV file's size on disk. For a Parquet file, from its footer: the larger of the
    uncompressed size of its row groups and the Arrow size of its fixed-width parts (rows
    times the byte width of each column, 4 bytes of offsets for strings and binaries), so
    neither compression nor dictionary encoding hides a large table.

    Raises:
        DataSourceError: The Parquet footer cannot be read.
    """
    if path.suffix.lower() in CSV_SUFFIXES:
        return path.stat().st_size
    try:
        with pq.ParquetFile(path) as parquet:
            meta = parquet.metadata
            schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(path, exc) from exc
    stored: int = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    rows: int = meta.num_rows
    return max(stored, rows * sum(_row_width(field.type) for field in schema))


def _row_width(kind: pa.DataType) -> int:
    """Bytes per row an Arrow column of ``kind`` takes at least."""
    if pa.types.is_dictionary(kind):
        return _row_width(kind.index_type)
    try:
        bits: int = kind.bit_width
    except ValueError:  # variable width: the offsets (the values are counted on disk)
        large = pa.types.is_large_string(kind) or pa.types.is_large_binary(kind)
        return 8 if large else 4
    return max(bits // 8, 1)


def streams(path: Path) -> bool:
    """True when the table file at ``path`` is larger than :data:`STREAM_BYTES`."""
    return table_size(path) > STREAM_BYTES


_COLUMN = re.compile(r"In CSV column #(\d+)")
_TARGET = re.compile(r"conversion error to (\w+)")
_VALUE = re.compile(r"invalid value '(.*)'", re.DOTALL)


def _block_size() -> str:
    mib, kib = divmod(CSV_BLOCK_BYTES, 1024 * 1024)
    return f"{mib} MiB" if mib and not kib else f"{CSV_BLOCK_BYTES // 1024} KiB"


def _stream_csv_error(path: Path, exc: pa.ArrowInvalid, schema: pa.Schema) -> DataSourceError:
    """Name the file, line, column and value of a failed streamed CSV conversion."""
    message = str(exc)
    # Threaded reading does not know row numbers; a serial streamed re-read does. It stops
    # at the same failure, holding one block at a time.
    try:
        options = pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES)
        for _ in pacsv.open_csv(path, read_options=options):
            pass
    except pa.ArrowInvalid as serial:
        message = str(serial)
    found = _ROW.search(message)
    line = int(found.group(1)) if found else None
    where = f" at line {line}" if line is not None else ""
    column = _COLUMN.search(message)
    if column is None or int(column.group(1)) >= len(schema):
        return DataSourceError(
            f"Cannot parse CSV file {path}{where}: {message}",
            hint="Fix the file (every row needs the header's number of columns, quotes "
            "must close), or add it as an opaque file by renaming it without the .csv suffix.",
            path=str(path),
            line=line,
        )
    name = schema.field(int(column.group(1))).name
    target = _TARGET.search(message)
    kind = target.group(1) if target else str(schema.field(name).type)
    value = _VALUE.search(message)
    at = f"line {line}" if line is not None else "a later row"
    if "invalid utf8" in message.lower():
        what = "a value that is not UTF-8 text"
    elif value is not None:
        what = f"the value {value.group(1)!r}"
    else:
        what = f"a value that is not {kind}"
    return DataSourceError(
        f"Cannot add CSV file {path}: column {name!r} was read as {kind} from the first "
        f"{_block_size()} of the file, but {at} holds {what}.",
        hint="A CSV file this large is read in blocks, each column's type taken from the "
        "first: give the column one type throughout (fix or quote the odd value, save the "
        "file as UTF-8), or convert it to Parquet with explicit column types and add that.",
        path=str(path),
        line=line,
        column=name,
        value=value.group(1) if value is not None else None,
    )


def _csv_batches(path: Path) -> tuple[pa.Schema, Generator[pa.RecordBatch]]:
    options = pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    try:
        reader = pacsv.open_csv(path, read_options=options)
    except pa.ArrowInvalid as exc:
        raise _stream_csv_error(path, exc, pa.schema([])) from exc
    schema = reader.schema

    def batches() -> Generator[pa.RecordBatch]:
        with reader:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as exc:
                    raise _stream_csv_error(path, exc, schema) from exc
                yield batch

    return schema, batches()


def _parquet_batches(path: Path) -> tuple[pa.Schema, Generator[pa.RecordBatch]]:
    from conveyor.data._profile_stream import BATCH_ROWS

    try:
        # pre_buffer reads whole row groups ahead, and without buffer_size a column chunk is
        # read whole: with both off, a source written as one huge row group still streams.
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(path, exc) from exc
    schema = parquet.schema_arrow

    def batches() -> Generator[pa.RecordBatch]:
        rows = 0
        with parquet:
            stream = parquet.iter_batches(batch_size=BATCH_ROWS)
            while True:
                try:
                    batch = next(stream)
                except StopIteration:
                    return
                except (pa.ArrowException, OSError) as exc:
                    raise _parquet_error(path, exc, f" after row {rows}") from exc
                rows += batch.num_rows
                yield batch

    return schema, batches()


def stream_table_file(path: Path, dest: Path) -> dict[str, Any]:
    """Write the canonical Parquet of the table file ``path`` to ``dest`` in one pass.

    Each record batch read is cast to the canonical schema, written as one row group (same
    options as :func:`write_canonical_parquet`) and profiled by
    :func:`~conveyor.data._profile_stream.profile_batches`, exactly while the batches
    total at most :data:`STREAM_BYTES` and with mergeable statistics beyond. CSV column
    types are inferred from the first :data:`CSV_BLOCK_BYTES` and then fixed.

    Returns:
        The table's profile (its ``row_count`` and ``schema`` included).

    Raises:
        DataSourceError: The file cannot be read or parsed, or a CSV column holds a value
            of another type than the first block gave it (naming line, column and value).
            ``dest`` may then hold a partial file: the caller deletes it.
    """
    from conveyor.data._profile_stream import profile_batches

    if path.suffix.lower() in CSV_SUFFIXES:
        schema, batches = _csv_batches(path)
    else:
        schema, batches = _parquet_batches(path)
    canonical = _canonical_schema(schema)
    options = {key: value for key, value in _WRITE_OPTIONS.items() if key != "row_group_size"}
    rows_per_group = _WRITE_OPTIONS["row_group_size"]

    with pq.ParquetWriter(dest, canonical, **options) as writer:

        def written() -> Iterator[pa.RecordBatch]:
            for read in batches:
                batch = read.cast(canonical).replace_schema_metadata(None)
                writer.write_batch(batch, row_group_size=rows_per_group)
                yield batch

        try:
            return profile_batches(canonical, written(), exact_bytes=STREAM_BYTES)
        finally:
            batches.close()
