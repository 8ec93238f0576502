"""The size bounds read from Arrow IPC metadata and Parquet page headers: never below what
pyarrow decodes (real data, every compression and encoding pyarrow writes), and on forged
or corrupted bytes a ValueError, never a crash or another error."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.serving._table_limits import arrow_bound, parquet_bound


@pytest.fixture(scope="module")
def penguins() -> pa.Table:
    from palmerpenguins import load_penguins

    frame: pd.DataFrame = load_penguins()
    return pa.Table.from_pandas(frame, preserve_index=False)


def _parquet(table: pa.Table, **options: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def _ipc(table: pa.Table, compression: str | None) -> bytes:
    sink = io.BytesIO()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        for batch in table.to_batches(max_chunksize=100):
            writer.write_batch(batch)
    return sink.getvalue()


def _parquet_bound(body: bytes) -> int:
    parquet = pq.ParquetFile(pa.BufferReader(body))
    return parquet_bound(body, parquet.metadata, parquet.schema)


def _decoded(body: bytes) -> int:
    """What the server decodes: strings kept dictionary-encoded, as stored."""
    parquet = pq.ParquetFile(pa.BufferReader(body))
    texts = [f.name for f in parquet.schema_arrow if pa.types.is_string(f.type)]
    table = pq.ParquetFile(pa.BufferReader(body), read_dictionary=texts).read()
    return int(table.nbytes)


PARQUET_OPTIONS: list[dict[str, Any]] = [
    {},
    {"compression": "zstd"},
    {"compression": "lz4", "row_group_size": 50},
    {"compression": "gzip", "data_page_version": "2.0"},
    {"compression": "snappy", "use_dictionary": False, "write_statistics": False},
    {"use_dictionary": False, "column_encoding": {"species": "DELTA_BYTE_ARRAY"}},
    {"use_dictionary": False, "column_encoding": {"island": "DELTA_LENGTH_BYTE_ARRAY"}},
    {"use_dictionary": False, "column_encoding": {"bill_length_mm": "BYTE_STREAM_SPLIT"}},
    {"use_dictionary": False, "column_encoding": {"year": "DELTA_BINARY_PACKED"}},
    {"data_page_size": 64, "write_batch_size": 10},
]


@pytest.mark.parametrize("options", PARQUET_OPTIONS, ids=[str(o) for o in PARQUET_OPTIONS])
def test_the_parquet_bound_covers_what_pyarrow_decodes(
    penguins: pa.Table, options: dict[str, Any]
) -> None:
    body = _parquet(penguins, **options)
    assert _parquet_bound(body) >= _decoded(body)


@pytest.mark.parametrize("compression", [None, "zstd", "lz4"])
def test_the_arrow_bound_counts_rows_and_covers_what_pyarrow_decodes(
    penguins: pa.Table, compression: str | None
) -> None:
    body = _ipc(penguins, compression)
    rows, size = arrow_bound(body, 10_000)
    decoded = pa.ipc.open_stream(body).read_all()
    assert rows == penguins.num_rows
    assert size >= decoded.nbytes


def test_the_arrow_bound_stops_counting_past_the_row_limit(penguins: pa.Table) -> None:
    rows, _ = arrow_bound(_ipc(penguins, "zstd"), 150)
    assert 150 < rows < penguins.num_rows


def test_a_compressed_buffer_declaring_a_negative_size_is_refused(penguins: pa.Table) -> None:
    body = bytearray(_ipc(penguins.select(["year"]).slice(0, 10), "zstd"))
    prefix = (10 * 8).to_bytes(8, "little")  # the year buffer's uncompressed length
    at = body.index(prefix)
    body[at : at + 8] = (-5).to_bytes(8, "little", signed=True)
    with pytest.raises(ValueError, match="declaring -5 bytes"):
        arrow_bound(bytes(body), 10_000)


def _flip(body: bytes, at: int, value: int) -> bytes:
    return body[:at] + bytes([value]) + body[at + 1 :]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_corrupted_parquet_page_header_is_a_value_error_or_a_bound(
    penguins: pa.Table, data: st.DataObject
) -> None:
    body = _parquet(penguins.slice(0, 40), compression="zstd")
    meta = pq.ParquetFile(pa.BufferReader(body)).metadata
    chunk = meta.row_group(0).column(data.draw(st.integers(0, meta.num_columns - 1)))
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    at = data.draw(st.integers(start, start + min(chunk.total_compressed_size, 40) - 1))
    forged = _flip(body, at, data.draw(st.integers(0, 255)))
    try:
        parquet = pq.ParquetFile(pa.BufferReader(forged))
    except (pa.ArrowException, OSError):
        return  # the footer itself no longer reads: refused before any bound
    with contextlib.suppress(ValueError):
        assert parquet_bound(forged, parquet.metadata, parquet.schema) >= 0


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(at=st.integers(0, 10_000), value=st.integers(0, 255))
def test_a_corrupted_arrow_stream_is_a_readable_error_or_a_bound(
    penguins: pa.Table, at: int, value: int
) -> None:
    body = _ipc(penguins.slice(0, 30), "lz4")
    forged = _flip(body, at % len(body), value)
    try:
        rows, size = arrow_bound(forged, 10_000)
    except (ValueError, OSError, pa.ArrowException):  # what parse_table reads as malformed
        return
    assert rows >= 0
    assert size >= 0
