"""Decompression bombs in Arrow IPC and Parquet bodies, on a real server: each is refused
4xx from the sizes it declares, before a byte is decompressed, and the server keeps
answering. The bombs are built cheaply (a compressed frame repeated, or a footer rewritten),
and the server runs in this process, so Arrow's peak allocation shows whether a bomb was
decoded."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from serving_support import ARROW, PARQUET, ipc, linear_model, parquet, running, valid

from conveyor.serving import ModelHost, ServingSettings, create_app

#: 2 MiB bodies: tables may decode to 32 MiB.
WIDE = ServingSettings(max_batch_rows=1000, max_body_bytes=2**21, log_predictions=False)
#: 32 KiB bodies: tables may decode to 512 KiB, so a Parquet bomb stays small in the test.
TIGHT = ServingSettings(max_batch_rows=1000, max_body_bytes=2**15, log_predictions=False)
EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
ZSTD_SKIPPABLE = 0x184D2A50


def _template(codec: str, size: int) -> tuple[bytes, int, int]:
    """A one-row stream whose last buffer holds ``size`` random bytes compressed with ``codec``.

    Returns the stream, where that buffer starts and how long it is; its length is a
    multiple of 8 (no padding follows it), so it can be swapped for other bytes of the
    same length without touching the message metadata.
    """
    rng = np.random.default_rng(3)
    while True:
        payload = rng.bytes(size)
        length = 8 + len(pa.compress(payload, codec=codec, asbytes=True))
        if length % 8 == 0:
            break
        size += 1
    body = ipc(pa.table({"age": pa.array([payload], pa.binary())}), codec)
    start = len(body) - len(EOS) - length
    assert body.endswith(EOS)
    assert body[start : start + 8] == struct.pack("<q", size), "unexpected stream layout"
    return body, start, length


def zstd_bomb() -> tuple[bytes, int]:
    """A ~100 kB stream whose one ZSTD buffer decompresses to 1 GiB of zeros.

    ZSTD decompresses concatenated frames, so one frame of 1 MiB of zeros (51 bytes) is
    repeated 1024 times; a skippable frame fills the rest of the template's buffer.
    """
    body, start, length = _template("zstd", 100_000)
    frame = pa.compress(bytes(2**20), codec="zstd", asbytes=True)
    declared = 2**30
    content = struct.pack("<q", declared) + frame * 1024
    rest = length - len(content) - 8
    assert rest >= 0
    content += struct.pack("<II", ZSTD_SKIPPABLE, rest) + bytes(rest)
    return body[:start] + content + body[start + length :], declared


def lz4_bomb() -> tuple[bytes, int]:
    """A ~1.5 MB stream whose one LZ4 buffer decompresses to about 360 MiB of zeros.

    An LZ4 frame of independent blocks: one block of 64 KiB of zeros (about 270 bytes)
    repeated, then one stored block to fill the template's buffer exactly.
    """
    body, start, length = _template("lz4", 1_500_000)
    frame = pa.compress(bytes(2**16), codec="lz4", asbytes=True)
    header, block, end_mark = frame[:7], frame[7:-4], frame[-4:]
    assert header[4] & 0x20, "the template's blocks must be independent"
    assert not header[4] & 0x08, "the template's frame must not declare its size"
    room = length - 8 - len(header) - len(end_mark)
    count = (room - 5) // len(block)
    stored = room - count * len(block) - 4
    assert 1 <= stored <= 2**16
    declared = count * 2**16 + stored
    content = (
        struct.pack("<q", declared)
        + header
        + block * count
        + struct.pack("<I", 0x80000000 | stored)
        + bytes(stored)
        + end_mark
    )
    assert len(content) == length
    return body[:start] + content + body[start + length :], declared


def zeros_table(rows: int, width: int) -> pa.Table:
    """``rows`` values of ``width`` zero bytes each, in one binary column."""
    offsets = pa.py_buffer(np.arange(0, (rows + 1) * width, width, dtype=np.int32).tobytes())
    values = pa.py_buffer(bytes(rows * width))
    return pa.table({"age": pa.Array.from_buffers(pa.binary(), rows, [None, offsets, values])})


def parquet_bomb() -> bytes:
    """16 MiB of zeros in one ZSTD column chunk: a body of a few kB, an honest footer."""
    return parquet(zeros_table(64, 2**18), compression="zstd", use_dictionary=False)


def _varint(value: int, width: int) -> bytes:
    """``value`` as a thrift varint of exactly ``width`` bytes (padded, still valid)."""
    out = [(value >> (7 * i)) & 0x7F | 0x80 for i in range(width - 1)]
    return bytes([*out, (value >> (7 * (width - 1))) & 0x7F])


def _zigzag(value: int) -> int:
    return value << 1 if value >= 0 else (-value << 1) - 1


def understated_parquet_bomb() -> bytes:
    """:func:`parquet_bomb` with the footer's uncompressed sizes rewritten to 1000 bytes."""
    body = parquet_bomb()
    meta = pq.ParquetFile(io.BytesIO(body)).metadata
    (footer_length,) = struct.unpack("<I", body[-8:-4])
    footer = body[-8 - footer_length : -8]
    sizes = {meta.row_group(0).total_byte_size, meta.row_group(0).column(0).total_uncompressed_size}
    for size in sizes:
        honest = _varint(_zigzag(size), 4)  # 16 MiB takes 4 bytes as a varint
        assert honest[-1] != 0, "the size must take exactly 4 bytes"
        assert honest in footer
        footer = footer.replace(honest, _varint(_zigzag(1000), 4))
    forged = body[: -8 - footer_length] + footer + body[-8:]
    lied = pq.ParquetFile(io.BytesIO(forged)).metadata
    assert lied.row_group(0).total_byte_size == 1000
    assert lied.row_group(0).column(0).total_uncompressed_size == 1000
    return forged


def delta_prefix_bomb() -> bytes:
    """200 rows repeating one 16 KiB value with DELTA_BYTE_ARRAY: each row stores only
    "same 16 KiB prefix as the row before", so a 16 kB page decodes to 3.2 MB."""
    return parquet(
        zeros_table(200, 2**14),
        use_dictionary=False,
        column_encoding={"age": "DELTA_BYTE_ARRAY"},
        compression="none",
    )


@pytest.fixture(scope="module")
def wide() -> Iterator[httpx.Client]:
    host = ModelHost()
    host.add(linear_model())
    with (
        running(create_app(host, settings=WIDE)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def tight() -> Iterator[httpx.Client]:
    host = ModelHost()
    host.add(linear_model())
    with (
        running(create_app(host, settings=TIGHT)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


def _refused_before_decoding(
    client: httpx.Client, path: str, body: bytes, headers: dict[str, str], fragment: str
) -> str:
    answer = client.post(path, content=body, headers=headers)
    assert answer.status_code == 413, answer.text
    error = answer.json()
    assert error["code"] == "payload_too_large"
    assert fragment in error["error"]
    assert "Nothing was decoded" in error["error"]
    assert error.get("hint")
    after = client.post(path, content=ipc(valid()), headers=ARROW)
    assert after.status_code == 200, after.text
    return str(error["error"])


@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
@pytest.mark.parametrize("bomb", [zstd_bomb, lz4_bomb], ids=["zstd", "lz4"])
def test_a_compressed_arrow_bomb_is_refused_from_its_declared_size(
    wide: httpx.Client, path: str, bomb: Any
) -> None:
    body, declared = bomb()
    assert len(body) < WIDE.max_body_bytes
    message = _refused_before_decoding(wide, path, body, ARROW, "Arrow IPC stream declares")
    # The bomb's buffer plus the 8-byte offsets buffer of its one row.
    assert f"declares {declared + 8} bytes" in message
    # The server decodes in this process: had it decompressed the bomb, Arrow's peak
    # allocation would have passed the bomb's size.
    assert pa.default_memory_pool().max_memory() < declared


@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
def test_a_parquet_bomb_with_an_honest_footer_is_refused_before_any_page(
    tight: httpx.Client, path: str
) -> None:
    answer = tight.post(path, content=parquet_bomb(), headers=PARQUET)
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "payload_too_large"
    assert "decodes to at least" in answer.json()["error"]
    assert tight.post(path, content=ipc(valid()), headers=ARROW).status_code == 200


@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
def test_a_parquet_footer_understating_sizes_is_caught_by_the_page_headers(
    tight: httpx.Client, path: str
) -> None:
    body = understated_parquet_bomb()
    assert len(body) < TIGHT.max_body_bytes
    _refused_before_decoding(tight, path, body, PARQUET, "Parquet file declares")


def test_a_delta_byte_array_page_is_bounded_by_its_values_times_its_size(
    tight: httpx.Client,
) -> None:
    body = delta_prefix_bomb()
    assert len(body) < TIGHT.max_body_bytes
    _refused_before_decoding(tight, "/v1/predict", body, PARQUET, "Parquet file declares")


def test_forged_page_headers_are_malformed_not_a_crash(tight: httpx.Client) -> None:
    body = bytearray(parquet(valid(), compression="none"))
    body[4:12] = b"\x19\xff\xff\xff\xff\xff\xff\xff"  # a list header running off the page
    answer = tight.post("/v1/predict", content=bytes(body), headers=PARQUET)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_request"
    assert "not a readable Parquet file" in answer.json()["error"]


def view_bomb() -> bytes:
    """1000 string views all pointing at the same 1 MiB: 1 MB of body, 1 GB as values."""
    rows, width = 1000, 2**20
    views = pa.py_buffer(struct.pack("<i4sii", width, bytes(4), 0, 0) * rows)
    column = pa.Array.from_buffers(
        pa.binary_view(), rows, [None, views, pa.py_buffer(bytes(width))]
    )
    return ipc(pa.table({"age": column, "spend": np.zeros(rows)}))


def run_end_bomb() -> bytes:
    """One 1 MiB value repeated by a single run over 1000 rows."""
    column = pa.RunEndEncodedArray.from_arrays([1000], pa.array([bytes(2**20)]))
    return ipc(pa.table({"age": column, "spend": np.zeros(1000)}))


def offsets_past_the_data() -> bytes:
    """A binary column whose last offset points 5000 bytes into 8 bytes of data."""
    body = ipc(pa.table({"age": [b"abcd", b"efgh"], "spend": [1.0, 2.0]}))
    honest = np.array([0, 4, 8], dtype=np.int32).tobytes()
    assert body.count(honest) == 1
    return body.replace(honest, np.array([0, 4, 5000], dtype=np.int32).tobytes())


def dictionary_index_past_the_end() -> bytes:
    """A dictionary-encoded column whose second index names entry 1000 of 7."""
    indices = pa.array([5, 6], pa.int64())
    column = pa.DictionaryArray.from_arrays(indices, pa.array(list("abcdefg")))
    body = ipc(pa.table({"age": column}))
    honest = np.array([5, 6], dtype=np.int64).tobytes()
    assert body[-len(EOS) - 16 : -len(EOS)] == honest, "unexpected stream layout"
    forged = np.array([5, 1000], dtype=np.int64).tobytes()
    return body[: -len(EOS) - 16] + forged + EOS


@pytest.mark.parametrize("bomb", [view_bomb, run_end_bomb], ids=["views", "run_end"])
def test_repeated_values_are_bounded_before_they_become_a_list(
    wide: httpx.Client, bomb: Any
) -> None:
    answer = wide.post("/v1/predict", content=bomb(), headers=ARROW)
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "payload_too_large"
    assert "decodes to at least 1048576000 bytes" in answer.json()["error"]
    assert wide.post("/v1/predict", content=ipc(valid()), headers=ARROW).status_code == 200


@pytest.mark.parametrize(
    "build", [offsets_past_the_data, dictionary_index_past_the_end], ids=["offsets", "index"]
)
def test_buffers_pointing_past_their_data_are_malformed_not_a_crash(
    wide: httpx.Client, build: Any
) -> None:
    answer = wide.post("/v1/predict", content=build(), headers=ARROW)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "malformed_request"
    assert "not a readable Arrow IPC stream" in answer.json()["error"]
    assert wide.post("/v1/predict", content=ipc(valid()), headers=ARROW).status_code == 200


VALID_TABLES = [
    (
        "arrow_run_end_encoded",
        ARROW,
        lambda: ipc(
            pa.table(
                {
                    "age": pa.RunEndEncodedArray.from_arrays([2, 3], pa.array([30.0, 61.0])),
                    "spend": [90.0, 10.0, 55.0],
                }
            )
        ),
    ),
    ("arrow_zstd", ARROW, lambda: ipc(valid(), "zstd")),
    ("arrow_lz4", ARROW, lambda: ipc(valid(), "lz4")),
    ("arrow_batches", ARROW, lambda: ipc(pa.concat_tables([valid()] * 3).combine_chunks())),
    ("parquet_v2_pages", PARQUET, lambda: parquet(valid(), data_page_version="2.0")),
    (
        "parquet_row_groups",
        PARQUET,
        lambda: parquet(pa.concat_tables([valid()] * 3), row_group_size=2, compression="zstd"),
    ),
    (
        "parquet_byte_stream_split",
        PARQUET,
        lambda: parquet(
            valid(), use_dictionary=False, column_encoding={"age": "BYTE_STREAM_SPLIT"}
        ),
    ),
]


@pytest.mark.parametrize(
    ("headers", "build"), [c[1:] for c in VALID_TABLES], ids=[c[0] for c in VALID_TABLES]
)
def test_compressed_and_encoded_tables_within_the_bound_predict_like_json(
    wide: httpx.Client, headers: dict[str, str], build: Any
) -> None:
    body = build()
    table = (
        pa.ipc.open_stream(body).read_all() if headers is ARROW else pq.read_table(io.BytesIO(body))
    )
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    expected = wide.post("/v1/predict", json={"columns": columns}).json()
    answer = wide.post("/v1/predict", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected["predictions"]
