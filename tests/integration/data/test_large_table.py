"""``data add`` of a table beyond ``STREAM_BYTES``: streamed in bounded memory, same rows,
a deterministic version, and nothing recorded or stored when the file is bad.

The threshold, batch size and CSV block size are turned down so that palmerpenguins
repeated a few hundred times (strings, booleans, datetimes, floats with NaN, integers
with nulls) takes the streamed path quickly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from data_workspace import Workspace

from conveyor.data import _tables
from conveyor.errors import DataSourceError
from large_table_support import KIB, penguins, shrink_stream


@pytest.fixture
def small_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    shrink_stream(monkeypatch)


def _same_rows(loaded: pd.DataFrame, source: pd.DataFrame) -> None:
    """Equal values column by column (nullable integers come back as floats)."""
    assert list(loaded.columns) == list(source.columns)
    assert len(loaded) == len(source)
    for name in source.columns:
        want, got = source[name], loaded[name]
        if str(want.dtype) == "Int64":
            want = want.astype("float64")
        if pd.api.types.is_datetime64_any_dtype(want):
            got, want = got.astype("datetime64[ns]"), want.astype("datetime64[ns]")
        pd.testing.assert_series_equal(got, want, check_dtype=False, check_names=False)


def test_a_streamed_parquet_table_restores_its_rows_and_re_adds_unchanged(
    ws: Workspace, tmp_path: Path, small_stream: None
) -> None:
    source = tmp_path / "penguins.parquet"
    penguins(40).to_parquet(source)
    assert _tables.streams(source)

    version = ws.registry.add("penguins", source)
    again = ws.registry.add("penguins", source)
    assert again.unchanged
    assert again.version == version.version == 1
    manifest = ws.registry.manifest(version)
    assert manifest["row_count"] == len(penguins(40))
    assert manifest["profile"]["columns"]["ring"]["nulls"] == len(penguins(40)) // 7 + 1

    _same_rows(ws.registry.load("penguins"), pd.read_parquet(source))
    restored = ws.registry.checkout("penguins", tmp_path / "restored.parquet", format="parquet")
    _same_rows(pd.read_parquet(restored), pd.read_parquet(source))
    original = ws.registry.checkout("penguins", tmp_path / "original.parquet")
    assert original.read_bytes() == source.read_bytes()


def test_a_streamed_csv_table_loads_the_rows_pandas_reads(
    ws: Workspace, tmp_path: Path, small_stream: None
) -> None:
    source = tmp_path / "penguins.csv"
    penguins(40).to_csv(source, index=False)
    assert _tables.streams(source)
    ws.registry.add("penguins", source)
    assert ws.registry.add("penguins", source).unchanged
    expected = pd.read_csv(source, parse_dates=["measured"])
    # Arrow reads an empty CSV field of a text column as "" where pandas reads NaN, on
    # the whole-table path too.
    text = ["species", "island", "sex"]
    expected[text] = expected[text].fillna("")
    _same_rows(ws.registry.load("penguins"), expected)


def _nothing_recorded(ws: Workspace) -> None:
    assert ws.registry.list() == []
    assert list(ws.artifacts.iter_objects()) == []
    tmp = ws.root / ".conveyor" / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


def test_a_csv_column_changing_type_late_records_and_stores_nothing(
    ws: Workspace, tmp_path: Path, small_stream: None
) -> None:
    frame = penguins(40)
    frame["island"] = frame["island"].astype(object)
    frame["year"] = frame["year"].astype(object)
    frame.loc[len(frame) - 3, "year"] = "MMIX"
    source = tmp_path / "mixed.csv"
    frame.to_csv(source, index=False)
    with pytest.raises(DataSourceError) as caught:
        ws.registry.add("penguins", source)
    assert "'year'" in caught.value.message
    assert "'MMIX'" in caught.value.message
    assert f"line {len(frame) - 3 + 2}" in caught.value.message
    _nothing_recorded(ws)


def test_a_corrupt_parquet_table_records_and_stores_nothing(
    ws: Workspace, tmp_path: Path, small_stream: None
) -> None:
    source = tmp_path / "penguins.parquet"
    table = pa.Table.from_pandas(penguins(40), preserve_index=False)
    import pyarrow.parquet as pq

    pq.write_table(table, source, row_group_size=2000, compression="zstd")
    data = bytearray(source.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)
    source.write_bytes(bytes(data))
    with pytest.raises(DataSourceError, match="Cannot read Parquet file"):
        ws.registry.add("penguins", source)
    _nothing_recorded(ws)


_SCRIPT = """
import json, sys, tracemalloc
from pathlib import Path

import pandas  # imported before measuring: its import is not the add's memory
import pyarrow as pa
import pyarrow.parquet

from conveyor.data import _profile, _profile_stream, _tables
from conveyor.workspace import Workspace, init_project

project, source, threshold = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
_tables.STREAM_BYTES = threshold
_tables.CSV_BLOCK_BYTES = 256 * 1024
_profile_stream.BATCH_ROWS = 8192
_profile_stream.SAMPLE_SIZE = 8192
init_project(project, name="large")
with Workspace.open(project) as ws:
    ws.datasets.list()
    tracemalloc.start()
    version = ws.datasets.add("penguins", source)
    _, python_peak = tracemalloc.get_traced_memory()
print(json.dumps({
    "arrow_peak": pa.default_memory_pool().max_memory(),
    "python_peak": python_peak,
}))
"""


def _peaks(tmp_path: Path, source: Path, threshold: int, name: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / name), str(source), str(threshold)],
        capture_output=True,
        text=True,
        check=True,
        timeout=240,
    )
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_streamed_add_holds_a_small_part_of_the_table_in_memory(
    tmp_path: Path, suffix: str
) -> None:
    frame = penguins(1200)
    table_bytes = pa.Table.from_pandas(frame, preserve_index=False).nbytes
    source = tmp_path / f"penguins{suffix}"
    if suffix == ".csv":
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source)
    streamed = _peaks(tmp_path, source, 512 * KIB, "streamed")
    whole = _peaks(tmp_path, source, 1 << 40, "whole")
    # The whole-table path holds the table (and more); the stream holds the exact-profile
    # batches (up to the threshold), the CSV reader's read-ahead blocks, one batch, the
    # writer's buffers and the profile's samples: a fixed amount, here 6-11 MiB of a
    # 42 MiB table, that does not grow with the table.
    assert whole["arrow_peak"] > table_bytes, (whole, table_bytes)
    assert streamed["arrow_peak"] < table_bytes / 3, (streamed, table_bytes)
    assert streamed["python_peak"] < table_bytes / 3, (streamed, table_bytes)
