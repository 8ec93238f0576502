"""Bounds on what an Arrow IPC stream or a Parquet file decodes to, read before any decoding.

A request body is small, but compression and some encodings let it stand for far more memory
than it takes: an Arrow IPC buffer compressed with ZSTD or LZ4 carries the size it claims once
decompressed, and Arrow allocates that size before it decompresses; a Parquet page carries its
uncompressed size (its footer may understate it), and a ``DELTA_BYTE_ARRAY`` page can repeat a
long prefix once per value. Neither pyarrow nor the formats offer a limit on the memory a read
may take, so these bounds are hand-written: they read the stream's message metadata and the
Parquet page headers (a few bytes each, no page is decompressed) and add up, for every buffer
and page, the most it can decode to. :func:`conveyor.serving._tables.parse_table` refuses a body
whose bound is past its limit before it hands the body to pyarrow.

Both readers treat the body as hostile: every offset and length is checked against the bytes
at hand, and anything that does not parse raises :class:`ValueError` (read as a malformed
body by the caller).
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["arrow_bound", "parquet_bound"]

#: Flatbuffer union tags of ``MessageHeader`` (Arrow's Message.fbs).
_DICTIONARY_BATCH = 2
_RECORD_BATCH = 3
#: Parquet encodings (parquet.thrift) whose values are read through a dictionary, and the one
#: that shares each value's prefix with the previous value.
_DICTIONARY_ENCODINGS = frozenset({2, 8})
_DELTA_BYTE_ARRAY = 7
#: Most bytes one decoded value of a fixed-width column can take (a decimal256; offsets,
#: validity and an INT96 timestamp take less).
_VALUE_WIDTH = 32
_NESTING = 32


def arrow_bound(body: bytes, max_rows: int) -> tuple[int, int]:
    """Rows and the most bytes an Arrow IPC stream decodes to, from its messages' metadata.

    Every record batch and dictionary batch is counted: an uncompressed buffer as its
    length, a compressed one as the uncompressed length it carries in its first 8 bytes
    (what Arrow allocates before decompressing it). Counting stops once the rows pass
    ``max_rows``.

    Args:
        body: The stream, as sent.
        max_rows: Stop reading once this many rows are counted.

    Returns:
        ``(rows, decoded_bytes)``.

    Raises:
        ValueError: A message's metadata or buffers do not fit the body.
    """
    import pyarrow as pa

    reader = pa.ipc.MessageReader.open_stream(pa.BufferReader(body))
    rows = size = 0
    while rows <= max_rows:
        try:
            message = reader.read_next_message()
        except StopIteration:
            break
        table = _Flatbuffer(message.metadata.to_pybytes())
        root = table.root()
        kind = table.scalar(root, 1, "<B", 0)
        if kind not in (_RECORD_BATCH, _DICTIONARY_BATCH):
            continue
        header = table.table(root, 2)
        if header is None:
            raise ValueError("a batch message without its header")
        if kind == _DICTIONARY_BATCH:
            header = table.table(header, 1)
            if header is None:
                raise ValueError("a dictionary batch without its data")
        else:
            length = table.scalar(header, 0, "<q", 0)
            if length < 0:
                raise ValueError(f"a record batch of {length} rows")
            rows += length
        data = memoryview(message.body) if message.body is not None else memoryview(b"")
        size += _batch_bytes(table, header, data)
    return rows, size


def _batch_bytes(table: _Flatbuffer, batch: int, body: memoryview) -> int:
    """The most bytes one RecordBatch's buffers decode to."""
    compressed = table.table(batch, 3) is not None
    total = 0
    for offset, length in table.structs(batch, 2, "<qq"):
        if offset < 0 or length < 0 or offset + length > len(body):
            raise ValueError(f"a buffer ({offset}, {length}) outside the {len(body)}-byte body")
        if not compressed or length == 0:
            total += length
            continue
        if length < 8:
            raise ValueError("a compressed buffer shorter than its 8-byte length prefix")
        (declared,) = struct.unpack_from("<q", body, offset)
        if declared == -1:  # stored uncompressed after the prefix
            total += length - 8
        elif declared < 0:
            raise ValueError(f"a compressed buffer declaring {declared} bytes")
        else:
            total += declared
    return total


class _Flatbuffer:
    """Just enough of the flatbuffer format to read Arrow's message metadata, bounds-checked."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _unpack(self, fmt: str, at: int) -> Any:
        if at < 0 or at + struct.calcsize(fmt) > len(self.data):
            raise ValueError("message metadata points outside itself")
        return struct.unpack_from(fmt, self.data, at)[0]

    def root(self) -> int:
        return int(self._unpack("<I", 0))

    def _field(self, table: int, index: int) -> int:
        """Where field ``index`` of the table at ``table`` is stored, or 0 when absent."""
        vtable = table - self._unpack("<i", table)
        vtable_size = self._unpack("<H", vtable)
        slot = 4 + 2 * index
        if slot + 2 > vtable_size:
            return 0
        offset = self._unpack("<H", vtable + slot)
        return table + offset if offset else 0

    def scalar(self, table: int, index: int, fmt: str, default: int) -> int:
        at = self._field(table, index)
        return int(self._unpack(fmt, at)) if at else default

    def table(self, table: int, index: int) -> int | None:
        at = self._field(table, index)
        return at + self._unpack("<I", at) if at else None

    def structs(self, table: int, index: int, fmt: str) -> list[tuple[int, ...]]:
        at = self.table(table, index)
        if at is None:
            return []
        count = self._unpack("<I", at)
        width = struct.calcsize(fmt)
        if at + 4 + count * width > len(self.data):
            raise ValueError("a vector longer than the message metadata")
        return [struct.unpack_from(fmt, self.data, at + 4 + i * width) for i in range(count)]


def parquet_bound(body: bytes, meta: Any, schema: Any) -> int:
    """The most bytes a Parquet file's column chunks decode to, from their page headers.

    The footer's sizes are only what the writer says; the page headers are what the reader
    allocates by (a page's uncompressed size must match for it to decompress), so each
    column chunk's pages are walked as the reader walks them (until the chunk's number of
    values is seen) and counted: every page's uncompressed size, plus
    per value the width of a decoded value (the dictionary's value width for a
    fixed-size binary column, whose dictionary is expanded), and for ``DELTA_BYTE_ARRAY``
    pages, where each value may repeat the previous one's prefix, the page size per value.

    Args:
        body: The file, as sent.
        meta: Its ``pyarrow.parquet.FileMetaData``.
        schema: Its ``pyarrow.parquet.ParquetSchema``.

    Raises:
        ValueError: A column chunk or page header does not fit the file.
    """
    total = 0
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            start = chunk.data_page_offset
            if chunk.has_dictionary_page and 0 < chunk.dictionary_page_offset < start:
                start = chunk.dictionary_page_offset
            end = start + chunk.total_compressed_size
            if start < 0 or end > len(body) or end < start:
                raise ValueError(f"column chunk ({start}, {end}) outside the file")
            width = _VALUE_WIDTH
            if chunk.physical_type == "FIXED_LEN_BYTE_ARRAY":
                width = max(width, int(schema.column(index).length or 0))
            total += _chunk_bytes(body, start, end, chunk.num_values, width)
    return total


def _chunk_bytes(body: bytes, start: int, end: int, values: int, width: int) -> int:
    """The pages of one column chunk, walked as the reader walks them: until ``values``."""
    total = seen = 0
    at = start
    while seen < values:
        size, stored, count, encoding, at = _page_header(body, at, end)
        if size < 0 or stored < 0 or count < 0:
            raise ValueError("a page header with a negative size or count")
        total += size + count * width
        if encoding == _DELTA_BYTE_ARRAY:
            total += count * size
        seen += count
        at += stored
    return total


def _page_header(data: bytes, at: int, end: int) -> tuple[int, int, int, int, int]:
    """One Parquet ``PageHeader`` (thrift compact protocol) read from ``data[at:end]``.

    Returns:
        The page's uncompressed size, stored size, number of values and their encoding
        (from ``DataPageHeader`` or ``DataPageHeaderV2``; 0 for other pages), and where
        the page's data starts.
    """
    size = stored = values = encoding = 0
    stack: list[tuple[int, int]] = []  # the enclosing structs: (their path, field id)
    path = last = 0  # path 0: the PageHeader; 5 or 8: its data page header; -1: other
    while True:
        if at >= end:
            raise ValueError("a page header running past its column chunk")
        byte = data[at]
        at += 1
        if byte == 0:  # the end of a struct
            if not stack:
                return size, stored, values, encoding, at
            path, last = stack.pop()
            continue
        kind, delta = byte & 0x0F, byte >> 4
        if delta:
            field = last + delta
        else:
            raw, at = _varint(data, at, end)
            field = (raw >> 1) ^ -(raw & 1)
        last = field
        if kind == 12:
            if len(stack) >= _NESTING:
                raise ValueError("a page header nested too deep")
            stack.append((path, field))
            path = field if path == 0 and field in (5, 8) else -1
            last = 0
        elif kind in (5, 6):
            raw, at = _varint(data, at, end)
            value = (raw >> 1) ^ -(raw & 1)
            if path == 0 and field == 2:
                size = value
            elif path == 0 and field == 3:
                stored = value
            elif path in (5, 8) and field == 1:  # num_values
                values = value
            elif (path, field) in ((5, 2), (8, 4)):  # the values' encoding
                encoding = value
        else:
            at = _skip_value(data, at, end, kind, len(stack) + 1)


def _skip_value(data: bytes, at: int, end: int, kind: int, depth: int) -> int:
    """Where the value of thrift type ``kind`` at ``at`` ends."""
    if kind in (1, 2):  # a boolean, held in the field header
        return at
    if kind == 4:
        return _varint(data, at, end)[1]
    if kind in (3, 7, 8):  # a byte, a double, a binary
        length = 1 if kind == 3 else 8
        if kind == 8:
            length, at = _varint(data, at, end)
        if at + length > end:
            raise ValueError("a page header running past its column chunk")
        return at + length
    skipper = _Thrift(data, at, end)  # lists, sets, maps: no page header written today
    skipper.skip(kind, depth)
    return skipper.at


def _varint(data: bytes, at: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= end:
            raise ValueError("a page header running past its column chunk")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
        if shift > 63:
            raise ValueError("a varint longer than 64 bits in a page header")


class _Thrift:
    """Skips one thrift compact-protocol value of any type, bounds-checked."""

    def __init__(self, data: bytes, at: int, end: int) -> None:
        self.data, self.at, self.end = data, at, end

    def _byte(self) -> int:
        if self.at >= self.end:
            raise ValueError("a page header running past its column chunk")
        value = self.data[self.at]
        self.at += 1
        return value

    def _varint(self) -> int:
        value, self.at = _varint(self.data, self.at, self.end)
        return value

    def skip(self, kind: int, depth: int) -> None:
        """Skip a value of thrift type ``kind`` (its field header already read)."""
        if depth > _NESTING:
            raise ValueError("a page header nested too deep")
        if kind in (1, 2):  # booleans are held in the field header
            return
        if kind == 3:
            self._byte()
        elif kind in (4, 5, 6):
            self._varint()
        elif kind == 7:
            self._advance(8)
        elif kind == 8:
            self._advance(self._varint())
        elif kind in (9, 10):
            head = self._byte()
            count, inner = head >> 4, head & 0x0F
            if count == 15:
                count = self._varint()
            for _ in range(count):
                self._skip_element(inner, depth + 1)
        elif kind == 11:
            count = self._varint()
            if count:
                types = self._byte()
                for _ in range(count):
                    self._skip_element(types >> 4, depth + 1)
                    self._skip_element(types & 0x0F, depth + 1)
        elif kind == 12:
            while True:
                byte = self._byte()
                if byte == 0:
                    return
                if not byte >> 4:  # a long-form field id
                    self._varint()
                self.skip(byte & 0x0F, depth + 1)
        else:
            raise ValueError(f"unknown thrift type {kind} in a page header")

    def _skip_element(self, kind: int, depth: int) -> None:
        if kind in (1, 2):  # a boolean inside a list takes one byte
            self._byte()
        else:
            self.skip(kind, depth)

    def _advance(self, n: int) -> None:
        if n < 0 or self.at + n > self.end:
            raise ValueError("a page header running past its column chunk")
        self.at += n
