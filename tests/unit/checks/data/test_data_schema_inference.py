"""Schema inference: types, nullability, ranges, categories, uniqueness and row bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orders_data import orders

from conveyor.checks.data import InferOptions, build_pandera, infer_frame_schema, validate_frame
from conveyor.checks.data._schema_infer import looks_like_id
from conveyor.data import compute_profile
from conveyor.errors import ConfigError


def _columns(doc: dict) -> dict:
    return doc["pandera"]["columns"]


def test_nullable_only_where_nulls_were_seen() -> None:
    cols = _columns(infer_frame_schema(orders()))
    assert cols["coupon"].get("nullable") is True
    assert not cols["price"].get("nullable", False)
    assert not cols["region"].get("nullable", False)


def test_numeric_range_is_the_observed_min_and_max_without_tolerance() -> None:
    frame = orders()
    options = InferOptions(tolerance=0.0)
    price = _columns(infer_frame_schema(frame, options=options))["price"]["in_range"]
    assert price["min_value"] == frame["price"].min()
    assert price["max_value"] == frame["price"].max()


def test_tolerance_widens_the_range_by_a_share_of_its_span() -> None:
    frame = pd.DataFrame({"x": [10.0, 20.0, 30.0], "n": [1, 5, 9]})
    cols = _columns(infer_frame_schema(frame, options=InferOptions(tolerance=0.1)))
    assert cols["x"]["in_range"]["min_value"] == pytest.approx(8.0)
    assert cols["x"]["in_range"]["max_value"] == pytest.approx(32.0)
    # Integer ranges widen outwards to whole numbers.
    assert (cols["n"]["in_range"]["min_value"], cols["n"]["in_range"]["max_value"]) == (0, 10)


def test_low_cardinality_strings_get_allowed_categories() -> None:
    cols = _columns(infer_frame_schema(orders()))
    assert cols["region"]["isin"] == ["north", "south", "west"]
    assert cols["coupon"]["isin"] == ["SPRING", "VIP"]


def test_high_cardinality_strings_get_no_categories() -> None:
    frame = pd.DataFrame({"city": [f"c{i % 60}" for i in range(120)]})
    assert "isin" not in _columns(infer_frame_schema(frame))["city"]
    small = infer_frame_schema(frame, options=InferOptions(max_categories=60))
    assert len(_columns(small)["city"]["isin"]) == 60


def test_unique_for_id_named_and_all_distinct_integer_columns() -> None:
    frame = pd.DataFrame(
        {
            "order_id": [10, 11, 12, 13],
            "sku": ["a", "b", "c", "d"],  # distinct but neither id-like nor integer
            "rank": [4, 3, 2, 1],  # distinct integers
            "score": [0.1, 0.2, 0.3, 0.4],  # distinct floats
            "userId": ["u1", "u2", "u3", "u4"],
            "repeat": [1, 1, 2, 3],
        }
    )
    cols = _columns(infer_frame_schema(frame))
    unique = {name for name, spec in cols.items() if spec.get("unique")}
    assert unique == {"order_id", "rank", "userId"}


def test_id_like_names() -> None:
    assert all(map(looks_like_id, ["id", "order_id", "userId", "customer-key", "UUID"]))
    assert not any(map(looks_like_id, ["paid", "valid", "width", "kidney"]))


def test_row_count_bounds_follow_the_factors() -> None:
    doc = infer_frame_schema(orders(200))
    assert doc["row_count"] == {"reference": 200, "min": 100, "max": 400}
    custom = infer_frame_schema(orders(200), options=InferOptions(0, 50, 0.9, 1.1))
    assert (custom["row_count"]["min"], custom["row_count"]["max"]) == (180, 220)


def test_profile_statistics_are_used_when_given() -> None:
    frame = orders()
    profile = compute_profile(pa_table(frame))
    assert infer_frame_schema(frame, profile) == infer_frame_schema(frame)
    # A profile that disagrees with the frame wins: its range and null count are used.
    profile["columns"]["price"].update(max=1_000_000.0, nulls=3)
    options = InferOptions(tolerance=0.0)
    price = _columns(infer_frame_schema(frame, profile, options))["price"]
    assert price["in_range"]["max_value"] == 1_000_000.0
    assert price.get("nullable") is True


def pa_table(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


@pytest.mark.parametrize(
    ("options", "word"),
    [
        ({"tolerance": -0.1}, "tolerance"),
        ({"max_categories": 0}, "max_categories"),
        ({"min_rows_factor": 1.5}, "row-count factors"),
    ],
)
def test_bad_options_are_config_errors(options: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        InferOptions(**options)


def test_document_round_trips_through_json_and_pandera() -> None:
    import json

    doc = infer_frame_schema(orders())
    again = json.loads(json.dumps(doc, allow_nan=False))
    assert build_pandera(again).validate(orders()).shape == (200, 5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ints=st.lists(st.integers(-1000, 1000), min_size=2, max_size=30),
    seed=st.integers(0, 1000),
)
def test_a_table_always_validates_against_its_own_schema(ints: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(ints)
    floats = rng.normal(size=n)
    floats[rng.random(n) < 0.2] = np.nan
    frame = pd.DataFrame(
        {
            "n": ints,
            "f": floats,
            "c": pd.Series(rng.choice(["x", "y", None], n), dtype="str"),
            "b": rng.random(n) < 0.5,
        }
    )
    failures, rows = validate_frame(frame, infer_frame_schema(frame))
    assert failures == {}
    assert rows["passed"]
