"""Batch scoring's files: the inputs read in batches, the output written whole or not at all.

:func:`input_files` and :func:`check_output` refuse what cannot be scored before any work is
done (a missing input, an output that is a folder or the input itself);
:func:`read_batches` streams a Parquet file's column chunks or a CSV file through pyarrow's
streaming reader (CSV columns parsed as the signature's types) in tables of ``batch_rows``
rows; :func:`write_output` writes through a temporary file next to the output and renames it
at the end, so an interrupted run leaves no half-written output.
"""

from __future__ import annotations

import contextlib
import glob
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    import pyarrow as pa

    from conveyor.serving._model import ServedModel

__all__ = [
    "BatchCallback",
    "BatchInputError",
    "check_output",
    "input_files",
    "input_hash",
    "read_batches",
    "total_rows",
    "write_output",
]

#: Called after each batch with (rows done, batches done, total rows or 0 when unknown).
BatchCallback = Callable[[int, int, int], None]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv",)
#: Bytes read at a time from a Parquet column chunk (streamed, not whole row groups).
_READ_BUFFER = 1 << 20
_ARROW_TYPES = {"double": "float64", "float": "float64", "long": "int64", "integer": "int64"}


class BatchInputError(ConveyorError, ValueError):
    """The input or output of a batch-scoring run cannot be used (named, with the reason)."""

    code = "batch_input_error"


def input_files(source: str | os.PathLike[str]) -> list[Path]:
    """The files ``source`` names: one file, a folder of Parquet parts, or a glob.

    Raises:
        BatchInputError: Nothing matches, or a file is neither Parquet nor CSV.
    """
    path = Path(source)
    text = str(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _PARQUET)
        if not files:
            raise BatchInputError(
                f"Folder {text} holds no .parquet files.",
                hint="Point --input at a .parquet or .csv file, or a folder of .parquet parts.",
                input=text,
            )
        return files
    if any(ch in text for ch in "*?[") and not path.exists():
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise BatchInputError(
                f"No file matches {text}.",
                hint="Check the pattern (quote it so the shell does not expand it).",
                input=text,
            )
    elif not path.is_file():
        raise BatchInputError(
            f"Input {text} does not exist.",
            hint="Point --input at a .parquet or .csv file, or a folder of .parquet parts.",
            input=text,
        )
    else:
        files = [path]
    for f in files:
        if f.suffix.lower() not in _PARQUET + _CSV:
            raise BatchInputError(
                f"Input {f} is neither Parquet nor CSV (suffix {f.suffix or 'none'!r}).",
                hint="Name the file .parquet or .csv.",
                input=str(f),
            )
    return files


def check_output(output: str | os.PathLike[str], inputs: Iterable[Path]) -> Path:
    """``output`` as a path that can be written, refused before any work is done.

    Raises:
        BatchInputError: It is a folder, its folder does not exist, it is an input, or its
            suffix is neither ``.parquet`` nor ``.csv``.
    """
    path = Path(output)
    text = str(output)
    if path.is_dir():
        raise BatchInputError(
            f"Output {text} is a folder.",
            hint="Give a file path inside it, such as predictions.parquet.",
            output=text,
        )
    if path.suffix.lower() not in _PARQUET + _CSV:
        raise BatchInputError(
            f"Output {text} is neither .parquet nor .csv.",
            hint="Name the output file .parquet or .csv (the suffix picks the format).",
            output=text,
        )
    if not path.parent.is_dir():
        raise BatchInputError(
            f"The folder of output {text} does not exist.",
            hint=f"Create it first (mkdir -p {path.parent}).",
            output=text,
        )
    resolved = path.resolve()
    if any(resolved == f.resolve() for f in inputs):
        raise BatchInputError(
            f"Output {text} is the input file; scoring would overwrite what it reads.",
            hint="Write the predictions to another file.",
            output=text,
        )
    return path


def read_batches(
    model: ServedModel,
    path: Path,
    batch_rows: int,
    row_groups: Sequence[int] | None = None,
) -> Iterator[Any]:
    """Arrow tables of at most ``batch_rows`` rows read from ``path``.

    CSV columns of the signature are parsed as the signature's types (a value that does
    not parse names its column and row); Parquet keeps its own types and is checked like a
    request.
    """
    import pyarrow as pa

    try:
        if path.suffix.lower() in _CSV:
            batches: Iterable[Any] = _csv_batches(model, path)
        else:
            import pyarrow.parquet as pq

            # Streamed column chunks: without a buffer a whole row group is decoded at once.
            parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=_READ_BUFFER)
            batches = parquet.iter_batches(batch_size=batch_rows, row_groups=row_groups)
        yield from _rebatch(batches, batch_rows)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(path, exc) from exc


def _csv_batches(model: ServedModel, path: Path) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types: dict[str, Any] = {}
    for column in model.columns:
        if column.type in _ARROW_TYPES:
            types[column.name] = pa.type_for_alias(_ARROW_TYPES[column.type])
        elif column.type == "boolean":
            types[column.name] = pa.bool_()
        elif column.type in ("string", "datetime"):
            types[column.name] = pa.string()
    try:
        reader = pacsv.open_csv(
            path,
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        with contextlib.closing(reader):
            yield from reader
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, _csv_header(path), exc) from exc


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's first line ([] when it cannot be read)."""
    import csv

    try:
        with path.open(encoding="utf-8", newline="") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _csv_error(path: Path, names: Sequence[str], exc: BaseException) -> BatchInputError:
    """A CSV value that does not parse, its column named (pyarrow gives its position)."""
    import re

    reason = str(exc).strip()
    found = re.search(r"CSV column #(\d+)", reason)
    column = None
    if found is not None and int(found.group(1)) < len(names):
        column = names[int(found.group(1))]
        reason = reason.replace(found.group(0), f"CSV column {column!r}")
    return BatchInputError(
        f"Cannot read {path}: {reason}",
        hint="Save the file as UTF-8 CSV with a header row, and fix the value named (an "
        "empty field reads as null).",
        input=str(path),
        column=column,
    )


def _rebatch(batches: Iterable[Any], size: int) -> Iterator[Any]:
    """Tables of exactly ``size`` rows (the last one shorter) from record batches."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for whole in batches:
        batch = whole
        while batch.num_rows:
            take = min(size - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            count += take
            batch = batch.slice(take)
            if count == size:
                yield pa.Table.from_batches(pending)
                pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _unreadable(path: Path, exc: BaseException) -> BatchInputError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BatchInputError(
        f"Cannot read {path}: {reason}",
        hint="Check that the file is a complete, valid "
        + ("UTF-8 CSV file with a header row." if path.suffix.lower() in _CSV else "Parquet file.")
        + " A value that does not parse as its column's type is named above.",
        input=str(path),
        reason=reason,
    )


def write_output(
    target: Path,
    tables: Iterable[Any],
    on_batch: BatchCallback | None,
    total: int = 0,
    *,
    allow_empty: bool = False,
) -> tuple[int, int]:
    """Write ``tables`` to ``target`` through a temporary file renamed at the end.

    With ``allow_empty`` no rows write no file; otherwise no rows is an error.

    Returns:
        (rows, batches) written.
    """
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    rows = batches = 0
    writer: Any = None
    try:
        for table in tables:
            if writer is None:
                writer = _writer(target, temp, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += table.num_rows
            batches += 1
            if on_batch is not None:
                on_batch(rows, batches, total)
        if writer is None:
            if allow_empty:
                return 0, 0
            raise BatchInputError(
                f"Input for {target} holds no rows.",
                hint="Score a file with at least one row.",
                output=str(target),
            )
        writer.close()
        writer = None
        os.replace(temp, target)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        temp.unlink(missing_ok=True)
        raise
    return rows, batches


class _CsvWriter:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow.csv as pacsv

        self.schema = schema
        self._writer = pacsv.CSVWriter(str(path), schema)

    def write_table(self, table: Any) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


def _writer(target: Path, temp: Path, schema: pa.Schema) -> Any:
    import pyarrow as pa

    if any(pa.types.is_null(field.type) for field in schema):
        # a batch of nulls only fixes no type: later batches would not fit
        schema = pa.schema(
            [
                field.with_type(pa.string()) if pa.types.is_null(field.type) else field
                for field in schema
            ]
        )
    if target.suffix.lower() in _CSV:
        return _CsvWriter(temp, schema)
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(temp), schema)


def total_rows(files: Sequence[Path]) -> int:
    """The number of rows of Parquet inputs (from their footers); 0 when a CSV is among them."""
    import pyarrow.parquet as pq

    if any(f.suffix.lower() in _CSV for f in files):
        return 0
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except Exception:  # noqa: BLE001 - an unreadable file is reported when it is read
        return 0


def input_hash(files: Sequence[Path]) -> str:
    """The hash of the input's bytes (of every part's hash, for several files)."""
    from conveyor.core import hash_file, hash_json

    if len(files) == 1:
        return hash_file(files[0])
    return hash_json([hash_file(f) for f in files])
