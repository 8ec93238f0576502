"""Batch scoring's output: refused before any work, written whole or not at all.

:func:`check_output` refuses an output that cannot be written before anything is scored (a
folder, the input under any spelling: ``./x``, a symbolic or a hard link; a folder that
cannot be written); :func:`write_output` writes through a temporary file next to the output
and renames it at the end, so an interrupted or failed run leaves no half-written output
(an output that is a symbolic link is replaced, never written through); :func:`conform`
puts each batch's columns in the first batch's order.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.serving._batch_io import (
    _CSV,
    _PARQUET,
    BatchCallback,
    BatchInputError,
    _check_utf8,
    _reason,
    path_error,
    shown,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["check_output", "conform", "write_output"]

#: The longest file name (bytes) common file systems take.
_NAME_MAX = 255


def check_output(output: str | os.PathLike[str], inputs: Iterable[Path]) -> Path:
    """``output`` as a path that can be written, refused before any work is done.

    Raises:
        BatchInputError: It is a folder, its folder does not exist or cannot be written,
            it is an input (under any spelling), its name is not UTF-8, or its suffix is
            neither ``.parquet`` nor ``.csv``.
    """
    try:
        return _check_output(output, inputs)
    except OSError as exc:  # a name too long for the file system, a folder not readable
        raise path_error("Output", str(output), exc) from exc


def _check_output(output: str | os.PathLike[str], inputs: Iterable[Path]) -> Path:
    path = Path(output)
    text = str(output)
    _check_utf8(text, "Output")
    if path.is_dir():
        raise BatchInputError(
            f"Output {shown(text)} is a folder.",
            hint="Give a file path inside it, such as predictions.parquet.",
            output=text,
        )
    if path.suffix.lower() not in _PARQUET + _CSV:
        raise BatchInputError(
            f"Output {shown(text)} is neither .parquet nor .csv.",
            hint="Name the output file .parquet or .csv (the suffix picks the format).",
            output=text,
        )
    if not path.parent.is_dir():
        raise BatchInputError(
            f"The folder of output {shown(text)} does not exist.",
            hint=f"Create it first (mkdir -p {shown(path.parent)}).",
            output=text,
        )
    # realpath, not resolve(): a symlink loop is a path, not a RuntimeError
    resolved = os.path.realpath(path)
    if any(resolved == os.path.realpath(f) or _same_file(path, f) for f in inputs):
        raise BatchInputError(
            f"Output {shown(text)} is the input file; scoring would overwrite what it reads.",
            hint="Write the predictions to another file.",
            output=text,
        )
    _check_writable(path)
    return path


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (a hard link is another spelling of the input)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_writable(target: Path) -> None:
    """Create and remove a file next to ``target``: a folder that cannot be written is
    refused before anything is scored."""
    probe = _temp_path(target)
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise BatchInputError(
            f"Cannot write output {shown(target)}: {shown(exc.strerror or exc)}.",
            hint="Write the predictions to a folder you can write to.",
            output=str(target),
        ) from exc
    try:
        os.close(fd)
    finally:
        probe.unlink(missing_ok=True)


def _temp_path(target: Path) -> Path:
    """A hidden, unique name next to ``target`` (shortened when ``target``'s own name is
    near the file system's limit, so any name that can be written can be written through)."""
    tag = uuid.uuid4().hex[:8]
    name = f".{target.name}.{tag}.tmp"
    if len(os.fsencode(name)) > _NAME_MAX:
        name = f".predictions.{tag}.tmp"
    return target.with_name(name)


def conform(table: Any, schema: Any, path: Path) -> Any:
    """``table`` with the columns of ``schema`` in its order (parts of a folder may order
    their columns differently), or an error naming the columns ``path`` lacks or adds."""
    if table.schema.names == schema.names:
        return table
    names = set(table.schema.names)
    if names == set(schema.names):
        return table.select(schema.names)
    missing = [n for n in schema.names if n not in names]
    extra = [n for n in table.schema.names if n not in set(schema.names)]
    said = "; ".join(
        f"{what} {', '.join(repr(shown(n)) for n in cols)}"
        for what, cols in (("lacks", missing), ("adds", extra))
        if cols
    )
    raise BatchInputError(
        f"Input {shown(path)} does not have the columns of the parts before it: it {said}.",
        hint="Give every part the same columns, or pass --keep with the columns they share "
        "(an id column).",
        input=str(path),
        missing=missing,
        extra=extra,
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

    With ``allow_empty`` no rows write no file; otherwise no rows is an error. An output
    that is a symbolic link is replaced by the file, never written through.

    Returns:
        (rows, batches) written.

    Raises:
        BatchInputError: No rows, a batch whose column types differ from the first's, a
            nested column for a CSV output, or the file system refused the write.
    """
    temp = _temp_path(target)
    rows = batches = 0
    writer: Any = None
    try:
        for table in tables:
            if writer is None:
                writer = _writer(target, temp, table.schema)
            writer.write_table(_cast(table, writer.schema))
            rows += table.num_rows
            batches += 1
            if on_batch is not None:
                on_batch(rows, batches, total)
        if writer is None:
            if allow_empty:
                return 0, 0
            raise BatchInputError(
                f"The input holds no rows; nothing was written to {shown(target)}.",
                hint="Score a file with at least one row.",
                output=str(target),
            )
        writer.close()
        writer = None
        os.replace(temp, target)
    except BaseException as exc:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise BatchInputError(
                f"Cannot write output {shown(target)}: {_reason(exc)}",
                hint="Check the free space and permissions of the output's folder; nothing "
                "was written.",
                output=str(target),
            ) from exc
        raise
    return rows, batches


def _cast(table: Any, schema: Any) -> Any:
    """``table`` as ``schema``'s types (a later part's column may be int32 where the first
    was int64), or an error naming the column that does not convert."""
    import pyarrow as pa

    try:
        return table.cast(schema)
    except (pa.ArrowException, ValueError):
        pass
    for field in schema:
        column = table.column(field.name)
        try:
            column.cast(field.type)
        except (pa.ArrowException, ValueError) as exc:
            raise BatchInputError(
                f"Column {shown(field.name)!r} holds {column.type} in a later batch but "
                f"{field.type} in the first: {_reason(exc)}",
                hint="Give the column one type in every part, or leave it out with --keep.",
                column=field.name,
            ) from exc
    raise BatchInputError(
        "A later batch's columns do not match the first batch's.",
        hint="Give every part the same columns and types.",
    )


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
        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:
            raise BatchInputError(
                f"CSV output {shown(target)} cannot hold the nested column(s) "
                f"{', '.join(repr(shown(n)) for n in nested)} (lists, structs or maps).",
                hint="Write a .parquet output, or pass --keep with the flat columns to copy.",
                output=str(target),
                columns=nested,
            )
        return _CsvWriter(temp, schema)
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(temp), schema)
