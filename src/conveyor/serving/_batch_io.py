"""Batch scoring's input: files found, then read in batches.

:func:`input_files` refuses what cannot be scored before any work is done (a missing input
or one that is not a regular file, a name that is not UTF-8, a folder's part linked from
outside it); :func:`read_batches` streams a Parquet file's column chunks or a CSV file
through pyarrow's streaming reader (CSV columns parsed as the signature's types) in tables
of ``batch_rows`` rows, refusing a file with two columns of one name. The output side is
:mod:`conveyor.serving._batch_output`'s.

Every name taken from a file (a path, a column name, a value pyarrow quotes) reaches a
message through :func:`shown`, so a terminal escape sequence in it is printed inert.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.serving._model import ServedModel

__all__ = [
    "BatchCallback",
    "BatchInputError",
    "input_files",
    "input_hash",
    "path_error",
    "read_batches",
    "shown",
    "total_rows",
]

#: Called after each batch with (rows done, batches done, total rows or 0 when unknown).
BatchCallback = Callable[[int, int, int], None]

_PARQUET = (".parquet", ".pq")
_CSV = (".csv",)
#: Bytes read at a time from a Parquet column chunk (streamed, not whole row groups).
_READ_BUFFER = 1 << 20
#: Rows pyarrow decodes at a time from Parquet (gathered into batches of ``batch_rows``).
_READ_ROWS = 65_536
#: pyarrow's CSV block size: the longest row it reads.
_CSV_BLOCK = 1 << 20
_ARROW_TYPES = {"double": "float64", "float": "float64", "long": "int64", "integer": "int64"}
#: Errors pyarrow raises for a file it cannot read (a name that is not UTF-8 is a decode error).
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, UnicodeError)


class BatchInputError(ConveyorError, ValueError):
    """The input or output of a batch-scoring run cannot be used (named, with the reason)."""

    code = "batch_input_error"


def shown(value: object) -> str:
    """``value`` as one line of inert text: control characters (a newline, ``ESC [ 2 J``)
    and bytes that are not UTF-8 written as their escapes."""
    from conveyor.registry import inert

    return inert(value, newlines=False)


def input_files(source: str | os.PathLike[str]) -> list[Path]:
    """The files ``source`` names: one file, a folder of Parquet parts, or a glob.

    A folder's hidden parts (``.name``, ``_name``: markers such as ``_SUCCESS``, other
    tools' temporary files) and entries that are not files are skipped.

    Raises:
        BatchInputError: Nothing matches, a file is neither Parquet nor CSV, is not a
            regular file, or is a folder's part linked from outside the folder.
    """
    try:
        return _input_files(source)
    except OSError as exc:  # a name too long for the file system, a folder not readable
        raise path_error("Input", str(source), exc) from exc


def path_error(what: str, text: str, exc: OSError) -> BatchInputError:
    """A path the operating system refuses to look at, named with its reason."""
    return BatchInputError(
        f"{what} {shown(text)} cannot be used: {shown(exc.strerror or exc)}.",
        hint="Check the path (its length, its folders' permissions) and try again.",
        path=text,
    )


def _input_files(source: str | os.PathLike[str]) -> list[Path]:
    path = Path(source)
    text = str(source)
    _check_utf8(text, "Input")
    if path.is_dir():
        return _folder_parts(path)
    if any(ch in text for ch in "*?[") and not path.exists():
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise BatchInputError(
                f"No file matches {shown(text)}.",
                hint="Check the pattern (quote it so the shell does not expand it).",
                input=text,
            )
        for f in files:
            _check_utf8(str(f), "Input")
    elif path.exists() and not path.is_file():
        raise BatchInputError(
            f"Input {shown(text)} is not a regular file (a device, a pipe or a socket).",
            hint="Point --input at a .parquet or .csv file, or a folder of .parquet parts.",
            input=text,
        )
    elif not path.is_file():
        raise BatchInputError(
            f"Input {shown(text)} does not exist.",
            hint="Point --input at a .parquet or .csv file, or a folder of .parquet parts.",
            input=text,
        )
    else:
        files = [path]
    for f in files:
        if f.suffix.lower() not in _PARQUET + _CSV:
            raise BatchInputError(
                f"Input {shown(f)} is neither Parquet nor CSV "
                f"(suffix {shown(f.suffix or 'none')!r}).",
                hint="Name the file .parquet or .csv.",
                input=str(f),
            )
    return files


def _folder_parts(folder: Path) -> list[Path]:
    """The ``.parquet`` parts of ``folder``, in name order; a part that links outside it is
    refused (a folder handed over must not read files it does not hold)."""
    text = str(folder)
    inside = os.path.realpath(folder)
    files: list[Path] = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith((".", "_")) or p.suffix.lower() not in _PARQUET:
            continue
        _check_utf8(str(p), "Input")
        real = os.path.realpath(p)
        if os.path.commonpath([inside, real]) != inside:
            raise BatchInputError(
                f"Part {shown(p)} of folder {shown(text)} links to {shown(real)}, outside it.",
                hint="Copy the file into the folder, or remove the link.",
                input=str(p),
            )
        if p.is_file():
            files.append(p)
    if not files:
        raise BatchInputError(
            f"Folder {shown(text)} holds no .parquet files.",
            hint="Point --input at a .parquet or .csv file, or a folder of .parquet parts.",
            input=text,
        )
    return files


def _check_utf8(text: str, what: str) -> None:
    """Refuse a path whose bytes are not UTF-8 (pyarrow cannot open it by name)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BatchInputError(
            f"{what} {shown(text)} is not a valid UTF-8 name.",
            hint="Rename the file (or folder) to a UTF-8 name.",
            path=text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
        ) from None


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
            _check_names(path, parquet.schema_arrow.names)
            meta = parquet.metadata
            groups = range(meta.num_row_groups) if row_groups is None else row_groups
            claimed = sum(meta.row_group(g).num_rows for g in groups)
            # pyarrow sizes its buffers by min(batch size, the footer's row count): small
            # reads keep a footer that claims billions of rows from allocating for them.
            size = min(batch_rows, _READ_ROWS)
            batches = _counted(
                path, parquet.iter_batches(batch_size=size, row_groups=row_groups), claimed
            )
        yield from _rebatch(batches, batch_rows)
    except (pa.ArrowException, *_READ_ERRORS) as exc:
        raise _unreadable(path, exc) from exc


def _counted(path: Path, batches: Iterable[Any], claimed: int) -> Iterator[Any]:
    """``batches``, then an error if they hold another number of rows than the footer says
    (a damaged or forged file: scoring part of it would pass for scoring all of it)."""
    rows = 0
    for batch in batches:
        rows += batch.num_rows
        yield batch
    if rows != claimed:
        raise BatchInputError(
            f"Input {shown(path)} claims {claimed:,} rows in its footer but holds {rows:,}.",
            hint="The file is damaged or was altered: write it again from its source.",
            input=str(path),
            claimed=claimed,
            rows=rows,
        )


def _check_names(path: Path, names: Sequence[str]) -> None:
    """Refuse a file with two columns of one name: which one the model reads (and which
    one the output keeps) would be a guess."""
    seen: set[str] = set()
    twice = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if twice:
        raise BatchInputError(
            f"Input {shown(path)} has more than one column named "
            f"{', '.join(repr(shown(n)) for n in dict.fromkeys(twice))}.",
            hint="Give every column its own name (rename or drop the copies).",
            input=str(path),
            columns=list(dict.fromkeys(twice)),
        )


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
            # Only an empty field is null: "NA", "null" or "nan" stay values (a string
            # column keeps them; a number column parses "nan" as NaN, which the
            # non-finite policy then rejects or reads as null).
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, null_values=[""]
            ),
        )
        with contextlib.closing(reader):
            _check_names(path, reader.schema.names)
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

    reason = _reason(exc)
    found = re.search(r"CSV column #(\d+)", reason)
    column = None
    if found is not None and int(found.group(1)) < len(names):
        column = names[int(found.group(1))]
        reason = reason.replace(found.group(0), f"CSV column {shown(column)!r}")
    return BatchInputError(
        f"Cannot read {shown(path)}: {reason}",
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


def _reason(exc: BaseException, limit: int = 300) -> str:
    """pyarrow's reason, first line, inert and at most ``limit`` characters (it may quote a
    whole line of the file)."""
    if isinstance(exc, UnicodeDecodeError):
        return "a column name or value is not valid UTF-8"
    text = str(exc).strip()
    reason = shown(text.splitlines()[0]) if text else type(exc).__name__
    if "straddling object straddles two block boundaries" in reason:
        reason = f"a row is longer than {_CSV_BLOCK >> 20} MiB (a line with no end, or not CSV)"
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def _unreadable(path: Path, exc: BaseException) -> BatchInputError:
    reason = _reason(exc)
    return BatchInputError(
        f"Cannot read {shown(path)}: {reason}",
        hint="Check that the file is a complete, valid "
        + ("UTF-8 CSV file with a header row." if path.suffix.lower() in _CSV else "Parquet file.")
        + " A value that does not parse as its column's type is named above.",
        input=str(path),
        reason=reason,
    )


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
