"""Profiles computed one record batch at a time: exact on small tables, bounded on large."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import palmerpenguins
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conveyor.data import profile_table_file
from conveyor.data._profile import compute_profile
from conveyor.data._profile_stream import profile_batches
from conveyor.data._tables import table_from_dataframe


@pytest.fixture(scope="module")
def penguins() -> pa.Table:
    """Real mixed data: strings, floats, integers and missing values, plus a boolean and
    a timestamp column derived from it."""
    frame = palmerpenguins.load_penguins()
    frame["heavy"] = (frame["body_mass_g"] > 4000).astype("boolean")
    frame.loc[frame["body_mass_g"].isna(), "heavy"] = None
    frame["seen"] = np.datetime64("2007-11-01") + frame.index.to_numpy().astype("timedelta64[D]")
    frame.loc[::17, "seen"] = None
    return table_from_dataframe(frame)


def test_a_small_table_in_many_batches_profiles_as_in_memory(
    penguins: pa.Table, tmp_path: Path
) -> None:
    path = tmp_path / "penguins.parquet"
    pq.write_table(penguins, path, row_group_size=25)
    assert pq.ParquetFile(path).num_row_groups > 10
    assert profile_table_file(path) == compute_profile(pq.read_table(path))


def test_a_csv_file_profiles_as_in_memory(penguins: pa.Table, tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    path = tmp_path / "penguins.csv"
    pacsv.write_csv(penguins.drop_columns(["seen"]), path)
    assert profile_table_file(path) == compute_profile(pacsv.read_csv(path))


def _large(path: Path, groups: int, rows: int) -> None:
    rng = np.random.default_rng(3)
    schema = pa.schema(
        [("x", pa.float64()), ("n", pa.int64()), ("s", pa.string()), ("b", pa.bool_())]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for _ in range(groups):
            x = rng.normal(10.0, 2.0, rows)
            mask = rng.random(rows) < 0.05
            table = pa.table(
                {
                    "x": pa.array(x, mask=mask),
                    "n": rng.integers(0, 50_000, rows),
                    "s": pa.array([f"k{i % 300}" for i in rng.integers(0, 10**6, rows)]),
                    "b": rng.random(rows) < 0.3,
                },
                schema=schema,
            )
            writer.write_table(table)


def test_a_large_table_is_profiled_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "large.parquet"
    _large(path, groups=40, rows=50_000)
    parquet = pq.ParquetFile(path, pre_buffer=False)  # as profile_table_file reads
    assert parquet.num_row_groups == 40
    peaks: list[int] = []
    batch_bytes: list[int] = []

    def sampled() -> Iterator[pa.RecordBatch]:
        for batch in parquet.iter_batches(batch_size=50_000):
            batch_bytes.append(batch.nbytes)
            peaks.append(pa.total_allocated_bytes())
            yield batch

    baseline = pa.total_allocated_bytes()
    profile = profile_batches(parquet.schema_arrow, sampled(), exact_bytes=4 * 1024 * 1024)
    table_bytes = sum(batch_bytes)
    # The whole table never sat in memory: the batches kept for an exact profile (4 MiB)
    # and one being read at most.
    assert max(peaks) - baseline < 8 * max(batch_bytes)
    assert max(peaks) - baseline < table_bytes / 5

    exact = compute_profile(pq.read_table(path))
    assert profile["row_count"] == exact["row_count"] == 2_000_000
    assert profile["schema"] == exact["schema"]
    for name in ("x", "n", "s", "b"):
        got, want = profile["columns"][name], exact["columns"][name]
        assert set(got) == set(want)
        for key in ("type", "kind", "count", "nulls", "null_share"):
            assert got[key] == want[key]
    x, want_x = profile["columns"]["x"], exact["columns"]["x"]
    assert (x["min"], x["max"], x["non_finite"]) == (want_x["min"], want_x["max"], 0)
    assert math.isclose(x["mean"], want_x["mean"], rel_tol=1e-9)
    assert math.isclose(x["std"], want_x["std"], rel_tol=1e-9)
    for key, value in want_x["quantiles"].items():
        assert abs(x["quantiles"][key] - value) < 0.1, key
    assert sum(x["histogram"]["counts"]) == want_x["count"]
    assert x["histogram"]["edges"] == want_x["histogram"]["edges"]
    assert x["distinct_exact"] is False
    assert abs(x["distinct"] - want_x["distinct"]) / want_x["distinct"] < 0.1
    n = profile["columns"]["n"]
    assert (n["min"], n["max"]) == (exact["columns"]["n"]["min"], exact["columns"]["n"]["max"])
    assert abs(n["distinct"] - 50_000) / 50_000 < 0.1
    s, want_s = profile["columns"]["s"], exact["columns"]["s"]
    # 300 distinct strings: counted exactly.
    assert (s["distinct"], s["top"], s["other"]) == (300, want_s["top"], want_s["other"])
    assert profile["columns"]["b"]["top"] == exact["columns"]["b"]["top"]
