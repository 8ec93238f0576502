"""Arrow IPC and Parquet request bodies as columns, their size bounded before they are read.

:func:`parse_table` reads what the prediction routes accept besides JSON
(:data:`conveyor.serving._wire.TABLE_TYPES`): flat columns only, rows counted and the
decoded size bounded before anything is decompressed (:mod:`conveyor.serving._table_limits`
reads the bound from the stream's metadata and the Parquet page headers), every Arrow stream
fully validated before a value is read, and repeated values (dictionaries, run-end encoding,
string views) bounded before they are copied once per row.
"""

from __future__ import annotations

from typing import Any

from conveyor.serving._errors import (
    MalformedRequestError,
    PayloadTooLargeError,
    RequestError,
)
from conveyor.serving._inputs import check_row_count
from conveyor.serving._settings import ServingSettings
from conveyor.serving._table_limits import arrow_bound, parquet_bound

__all__ = ["parse_table"]

#: How much larger than the body a table may grow once decompressed and decoded.
_TABLE_EXPANSION = 16


def parse_table(body: bytes, fmt: str, settings: ServingSettings) -> dict[str, Any]:
    """An Arrow IPC stream or Parquet body as ``{column: values}`` (what a JSON
    ``{"columns": ...}`` body holds): numeric columns without nulls as numpy arrays, the
    others as lists (nulls as ``None``), dates and times as ISO strings.

    Rows are counted before columns are built (the Parquet footer first, then what is read)
    and the decoded size is bounded before anything is decompressed (from each Arrow
    message's buffer sizes, compressed buffers by the size they declare, and from every
    Parquet page header: see :mod:`conveyor.serving._table_limits`), then again as batches
    and row groups are decoded, so a small body cannot expand into a huge table.

    Args:
        body: The request body.
        fmt: ``"arrow"`` or ``"parquet"``.
        settings: ``max_batch_rows`` and ``max_body_bytes`` bound the table.

    Raises:
        MalformedRequestError: Not a readable stream or file, no rows or columns, a nested
            column, duplicate or non-UTF-8 column names (400).
        TooManyRowsError: More rows than ``max_batch_rows`` (400).
        PayloadTooLargeError: The table declares or decodes to more than 16x
            ``max_body_bytes`` (413).
    """
    import pyarrow as pa

    label = "Arrow IPC stream" if fmt == "arrow" else "Parquet file"
    if not body:
        raise MalformedRequestError(
            "The request body is empty.", hint=f"Send a {label} as the request body."
        )
    limit = settings.max_body_bytes * _TABLE_EXPANSION
    try:
        table = (
            _read_arrow(body, settings, limit)
            if fmt == "arrow"
            else _read_parquet(body, settings, limit)
        )
        # A stream's offsets, views and dictionary indices are only trusted once checked
        # against its buffers: reading past them would crash the server.
        table.validate(full=True)
        names = list(table.schema.names)
    except RequestError:
        raise
    except (pa.ArrowException, OSError, ValueError, TypeError, IndexError, UnicodeError) as exc:
        raise _unreadable(label, exc) from None
    check_row_count(table.num_rows, settings)
    if not names or table.num_rows == 0:
        raise MalformedRequestError(
            f"The {label} holds {table.num_rows} rows and {len(names)} columns; "
            "at least one of each is needed.",
            hint="Send the rows to predict, one column per input of the model.",
        )
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise MalformedRequestError(
            f"The {label} names column(s) {', '.join(map(repr, twice[:5]))} more than once.",
            hint="Send each column once.",
        )
    try:
        return {name: _column(name, table.column(i), limit) for i, name in enumerate(names)}
    except RequestError:
        raise
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise _unreadable(label, exc) from None


def _unreadable(label: str, exc: BaseException) -> MalformedRequestError:
    reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return MalformedRequestError(
        f"The request body is not a readable {label}: {reason}.",
        hint=f"Send one complete {label}, written by pyarrow or another Arrow library.",
    )


def _too_large_table(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request's table decodes to at least {size} bytes; the limit is {limit} "
        f"({_TABLE_EXPANSION}x the body limit).",
        hint="Send fewer rows per request, or values that compress less.",
        size=size,
        limit=limit,
    )


def _too_large_declared(label: str, size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request's {label} declares {size} bytes once decompressed and decoded; the "
        f"limit is {limit} ({_TABLE_EXPANSION}x the body limit). Nothing was decoded.",
        hint="Send fewer rows per request, or values that compress less.",
        size=size,
        limit=limit,
    )


def _read_arrow(body: bytes, settings: ServingSettings, limit: int) -> Any:
    import pyarrow as pa

    # Rows and decompressed sizes are read from every message's metadata first: Arrow
    # allocates a compressed buffer's declared size before it decompresses it.
    rows, declared = arrow_bound(body, settings.max_batch_rows)
    check_row_count(rows, settings)
    if declared > limit:
        raise _too_large_declared("Arrow IPC stream", declared, limit)
    reader = pa.ipc.open_stream(pa.BufferReader(body))
    batches = []
    rows = size = 0
    for batch in reader:
        rows += batch.num_rows
        size += batch.nbytes
        check_row_count(rows, settings)
        if size > limit:
            raise _too_large_table(size, limit)
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _read_parquet(body: bytes, settings: ServingSettings, limit: int) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(pa.BufferReader(body))
    meta = parquet.metadata
    check_row_count(meta.num_rows, settings)  # the footer's count, before any page is read
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > limit:
        raise _too_large_table(size, limit)
    # The footer may understate sizes: the page headers, which the reader allocates by,
    # are counted before any page is decompressed.
    declared = parquet_bound(body, meta, parquet.schema)
    if declared > limit:
        raise _too_large_declared("Parquet file", declared, limit)
    # Strings and bytes stay dictionary-encoded as stored, so a value repeated by every row
    # is bounded (in _column) before it is copied once per row.
    texts = [
        field.name
        for field in parquet.schema_arrow
        if pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
        or pa.types.is_binary(field.type)
        or pa.types.is_large_binary(field.type)
    ]
    if texts:
        parquet = pq.ParquetFile(pa.BufferReader(body), read_dictionary=texts)
    groups = []
    size = 0
    for group in range(meta.num_row_groups):  # a running bound, row group by row group
        groups.append(parquet.read_row_group(group))
        size += groups[-1].nbytes
        if size > limit:
            raise _too_large_table(size, limit)
    if not groups:
        return parquet.schema_arrow.empty_table()
    return pa.concat_tables(groups)


def _column(name: str, column: Any, limit: int) -> Any:
    """One Arrow column as a numpy array (numeric, no nulls) or a list."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind) or pa.types.is_run_end_encoded(kind):
        # A few values repeated by index or by run: bound the decoded size before decoding.
        longest = max(
            (
                _longest(c.dictionary if pa.types.is_dictionary(kind) else c.values)
                for c in column.chunks
            ),
            default=0,
        )
        if longest * len(column) > limit:
            raise _too_large_table(longest * len(column), limit)
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
        else:
            column = pc.run_end_decode(column)
        kind = column.type
    if _is_view(kind):  # views may all point at the same long value
        size = sum(_view_lengths(chunk).sum() for chunk in column.chunks)
        if size > limit:
            raise _too_large_table(int(size), limit)
    if pa.types.is_nested(kind):
        raise MalformedRequestError(
            f"Column {name[:60]!r} has the nested Arrow type {str(kind)[:80]}; "
            "only flat columns are accepted.",
            hint="Send one flat column (numbers, booleans or strings) per model input.",
            column=name[:60],
        )
    if pa.types.is_temporal(kind):
        column = column.cast(pa.string())
    elif (
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    ) and column.null_count == 0:
        return column.to_numpy()
    return column.to_pylist()


def _is_view(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_binary_view(kind) or pa.types.is_string_view(kind))


def _view_lengths(array: Any) -> Any:
    """The lengths of a (validated) string or binary view array's values, nulls as 0."""
    import numpy as np

    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    views = np.frombuffer(array.buffers()[1], dtype=np.int32).reshape(-1, 4)
    lengths = views[array.offset : array.offset + len(array), 0].astype(np.int64)
    if array.null_count:
        lengths[~array.is_valid().to_numpy(zero_copy_only=False)] = 0
    return lengths


def _longest(values: Any) -> int:
    """The most bytes one of ``values`` decodes to (an upper bound)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if len(values) == 0:
        return 0
    if _is_view(kind):
        return int(_view_lengths(values).max())
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        return int(pc.max(pc.binary_length(values)).as_py() or 0)
    try:
        return max(int(kind.bit_width) // 8, 1)
    except ValueError:  # not fixed-width: no value is longer than all of them
        return int(values.nbytes)
