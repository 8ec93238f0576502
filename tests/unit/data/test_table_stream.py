"""Streaming a table file beyond ``STREAM_BYTES`` into canonical Parquet and its profile.

The threshold, the batch size and the CSV block size are turned down so that a few
thousand palmerpenguins rows (strings, booleans, datetimes, floats with NaN, integers
with nulls) take the streamed path in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.core import hash_file
from conveyor.data import AddStats, _tables
from conveyor.data._ingest import prepare
from conveyor.data._profile import compute_profile
from conveyor.errors import DataSourceError
from large_table_support import penguins, shrink_stream


@pytest.fixture
def small_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    shrink_stream(monkeypatch)


def _exact(path: Path) -> dict[str, Any]:
    return compute_profile(_tables.read_table_file(path))


def _whole(path: Path, tmp_path: Path) -> pa.Table:
    """What the whole-table path stores for ``path``, read back."""
    dest = tmp_path / "whole.parquet"
    _tables.write_canonical_parquet(_tables.read_table_file(path), dest)
    return pq.read_table(dest)


def assert_profile_close(streamed: dict[str, Any], exact: dict[str, Any]) -> None:
    """Exact statistics equal; estimates within the tolerances the profiler states."""
    assert streamed["row_count"] == exact["row_count"]
    assert streamed["schema"] == exact["schema"]
    for name, want in exact["columns"].items():
        got = streamed["columns"][name]
        for key in ("type", "kind", "count", "nulls", "null_share"):
            assert got[key] == want[key], (name, key)
        if want["kind"] in ("numeric", "temporal"):
            assert got["min"] == want["min"], name
            assert got["max"] == want["max"], name
            # KMV estimate with 4096 hashes: exact below 4096 distinct, ~2% error above.
            assert got["distinct"] == pytest.approx(want["distinct"], rel=0.06), name
        if want["kind"] != "numeric" or want["mean"] is None:
            if want["kind"] in ("categorical", "boolean"):
                assert got["top"] == want["top"], name
                assert got["other"] == want["other"], name
                assert got["distinct"] == want["distinct"], name
            continue
        assert got["non_finite"] == want["non_finite"], name
        assert got["mean"] == pytest.approx(want["mean"], rel=1e-9, abs=1e-12), name
        assert got["std"] == pytest.approx(want["std"], rel=1e-6), name
        spread = want["max"] - want["min"]
        for key, value in want["quantiles"].items():
            # A 4096-value uniform sample: quantiles within 3% of the range.
            assert abs(got["quantiles"][key] - value) <= 0.03 * spread, (name, key)
        assert got["histogram"]["edges"] == pytest.approx(want["histogram"]["edges"])
        counts = np.array(got["histogram"]["counts"])
        wanted = np.array(want["histogram"]["counts"])
        assert counts.sum() == wanted.sum()
        assert np.abs(counts - wanted).max() <= 0.03 * wanted.sum(), name


def test_a_parquet_table_beyond_the_threshold_is_streamed_in_row_groups_of_the_stream(
    tmp_path: Path, small_stream: None
) -> None:
    source = tmp_path / "penguins.parquet"
    penguins().to_parquet(source)
    assert _tables.streams(source)
    dest = tmp_path / "out.parquet"
    profile = _tables.stream_table_file(source, dest)

    written = pq.ParquetFile(dest)
    assert written.metadata.num_row_groups == -(-profile["row_count"] // 2048)
    assert written.schema_arrow.metadata is None or b"pandas" not in written.schema_arrow.metadata
    assert written.metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(dest).equals(_whole(source, tmp_path))
    assert_profile_close(profile, _exact(source))

    again = tmp_path / "again.parquet"
    _tables.stream_table_file(source, again)
    assert hash_file(again) == hash_file(dest)


def test_a_mixed_type_csv_beyond_the_threshold_is_streamed_with_the_first_block_types(
    tmp_path: Path, small_stream: None
) -> None:
    source = tmp_path / "penguins.csv"
    penguins().to_csv(source, index=False)
    assert _tables.streams(source)
    dest = tmp_path / "out.parquet"
    profile = _tables.stream_table_file(source, dest)

    assert pq.read_table(dest).equals(_whole(source, tmp_path))
    assert pq.ParquetFile(dest).metadata.num_row_groups > 1
    assert_profile_close(profile, _exact(source))


def test_a_table_within_the_threshold_keeps_the_whole_table_bytes(tmp_path: Path) -> None:
    source = tmp_path / "penguins.parquet"
    penguins(copies=2).to_parquet(source)
    assert not _tables.streams(source)
    content = prepare(
        source, tmp_dir=tmp_path / "tmp", cache_path=tmp_path / "state.db", stats=AddStats()
    )
    try:
        whole = tmp_path / "whole.parquet"
        _tables.write_canonical_parquet(_tables.read_table_file(source), whole)
        assert content.files[0].hash == hash_file(whole)
        assert content.profile == _exact(source)
    finally:
        content.cleanup()


def test_a_csv_column_changing_type_after_the_first_block_names_line_column_and_value(
    tmp_path: Path, small_stream: None
) -> None:
    frame = penguins()
    frame["year"] = frame["year"].astype(str)
    frame.loc[len(frame) - 5, "year"] = "twenty-nine"
    source = tmp_path / "mixed.csv"
    frame.to_csv(source, index=False)
    dest = tmp_path / "out.parquet"
    with pytest.raises(DataSourceError) as caught:
        _tables.stream_table_file(source, dest)
    error = caught.value
    line = len(frame) - 5 + 2  # the header is line 1
    assert str(source) in error.message
    assert "'year'" in error.message
    assert "'twenty-nine'" in error.message
    assert f"line {line}" in error.message
    assert error.fields["line"] == line
    assert error.fields["column"] == "year"
    assert error.hint is not None
    assert "Parquet" in error.hint


def test_a_csv_with_latin_1_text_after_the_first_block_names_the_column(
    tmp_path: Path, small_stream: None
) -> None:
    source = tmp_path / "latin.csv"
    penguins().to_csv(source, index=False)
    with source.open("ab") as fh:
        fh.write(
            "Adelie,Torgersen,1,2,3,4,caf\xe9,2007,0,True,2007-06-01,1,1.0\n".encode("latin-1")
        )
    with pytest.raises(DataSourceError) as caught:
        _tables.stream_table_file(source, tmp_path / "out.parquet")
    assert str(source) in caught.value.message
    assert "'sex'" in caught.value.message
    assert "UTF-8" in caught.value.message


def test_a_parquet_file_corrupt_in_the_middle_is_a_data_source_error(
    tmp_path: Path, small_stream: None
) -> None:
    source = tmp_path / "penguins.parquet"
    pa_table = pa.Table.from_pandas(penguins(), preserve_index=False)
    pq.write_table(pa_table, source, row_group_size=2000, compression="zstd")
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(4096)  # zeros: a zstd frame that cannot decode
    source.write_bytes(bytes(data))
    with pytest.raises(DataSourceError) as caught:
        _tables.stream_table_file(source, tmp_path / "out.parquet")
    assert str(source) in caught.value.message
    assert "after row" in caught.value.message


def test_a_truncated_parquet_file_is_a_data_source_error(tmp_path: Path) -> None:
    source = tmp_path / "penguins.parquet"
    penguins(copies=2).to_parquet(source)
    source.write_bytes(source.read_bytes()[:-100])
    with pytest.raises(DataSourceError, match="Cannot read Parquet file"):
        _tables.streams(source)
