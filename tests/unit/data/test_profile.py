"""compute_profile: known statistics, JSON safety, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.data import compute_profile


def test_profile_of_known_numbers_has_the_known_statistics() -> None:
    table = pa.table({"x": list(range(1, 101))})
    col = compute_profile(table)["columns"]["x"]
    assert col["count"] == 100
    assert col["nulls"] == 0
    assert col["min"] == 1
    assert col["max"] == 100
    assert col["mean"] == 50.5
    assert math.isclose(col["std"], float(np.std(np.arange(1, 101), ddof=1)))
    assert col["quantiles"]["p50"] == 50.5
    assert math.isclose(col["quantiles"]["p25"], 25.75)
    assert math.isclose(col["quantiles"]["p99"], 99.01)
    assert col["distinct"] == 100
    assert col["distinct_exact"] is True
    assert col["histogram"]["counts"] == [5] * 20
    assert len(col["histogram"]["edges"]) == 21


def test_histogram_and_quantiles_match_numpy_on_random_data() -> None:
    values = np.random.default_rng(7).normal(size=5000)
    col = compute_profile(pa.table({"v": values}))["columns"]["v"]
    counts, edges = np.histogram(values, bins=20)
    assert col["histogram"]["counts"] == counts.tolist()
    assert np.allclose(col["histogram"]["edges"], edges)
    expected = np.quantile(values, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    assert np.allclose(list(col["quantiles"].values()), expected)


def test_profile_of_strings_lists_top_values_with_shares_and_other() -> None:
    values = ["a"] * 50 + ["b"] * 30 + [f"rare{i}" for i in range(20)] + [None] * 10
    col = compute_profile(pa.table({"s": values}))["columns"]["s"]
    assert col["kind"] == "categorical"
    assert col["nulls"] == 10
    assert col["distinct"] == 22
    assert col["top"][0] == {"value": "a", "count": 50, "share": 0.5}
    assert col["top"][1] == {"value": "b", "count": 30, "share": 0.3}
    assert len(col["top"]) == 20
    assert col["other"] == 2  # 22 distinct values, 20 shown: two singletons left


def test_profile_of_categories_and_booleans() -> None:
    table = pa.table(
        {
            "c": pa.array(["x", "y", "x", "x"]).dictionary_encode(),
            "b": [True, False, True, None],
        }
    )
    cols = compute_profile(table)["columns"]
    assert cols["c"]["top"][0] == {"value": "x", "count": 3, "share": 0.75}
    assert cols["c"]["type"].startswith("dictionary")
    assert cols["b"]["top"] == [
        {"value": True, "count": 2, "share": 2 / 3},
        {"value": False, "count": 1, "share": 1 / 3},
    ]


def test_non_finite_and_all_null_columns_give_null_statistics_not_nan() -> None:
    table = pa.table(
        {
            "f": [1.0, float("nan"), float("inf"), None, 3.0],
            "empty": pa.array([None, None, None, None, None], pa.float64()),
        }
    )
    profile = compute_profile(table)
    assert profile["columns"]["f"]["non_finite"] == 2
    assert profile["columns"]["f"]["mean"] == 2.0
    assert profile["columns"]["empty"]["mean"] is None
    json.dumps(profile, allow_nan=False)


def test_schema_lists_arrow_types_and_row_count() -> None:
    profile = compute_profile(pa.table({"a": [1], "b": ["x"], "c": [1.5]}))
    assert profile["schema"] == {"a": "int64", "b": "string", "c": "double"}
    assert profile["row_count"] == 1


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), floats), max_size=60),
    st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=60),
    st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), max_size=60),
)
def test_any_profile_is_json_serialisable_without_nan(
    xs: list[float | None], ss: list[str | None], ns: list[int | None]
) -> None:
    size = min(len(xs), len(ss), len(ns))
    table = pa.table(
        {
            "x": pa.array(xs[:size], pa.float64()),
            "s": pa.array(ss[:size], pa.string()),
            "n": pa.array(ns[:size], pa.int64()),
        }
    )
    profile = compute_profile(table)
    text = json.dumps(profile, allow_nan=False)
    assert json.loads(text) == profile
    assert compute_profile(table) == profile  # deterministic
