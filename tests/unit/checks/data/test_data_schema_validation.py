"""Validation against an inferred schema names every failing column with its bad values."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from orders_data import orders

from conveyor.checks.data import (
    InferOptions,
    StoredSchema,
    infer_frame_schema,
    schema_outcome,
    validate_frame,
)


def _stored(frame: pd.DataFrame, tolerance: float = 0.0) -> StoredSchema:
    document = infer_frame_schema(frame, options=InferOptions(tolerance=tolerance))
    return StoredSchema("orders", 1, 1, document, datetime.now(UTC), "tester")


def _corrupt(frame: pd.DataFrame) -> pd.DataFrame:
    bad = frame.copy()
    # Strings in a numeric column: as a CSV would load them, the whole column becomes text.
    bad["quantity"] = bad["quantity"].astype(str)
    bad.loc[3, "quantity"] = "three"
    bad.loc[7, "quantity"] = "n/a"
    bad.loc[10, "price"] = -4.5  # negative price
    bad.loc[12, "region"] = "atlantis"  # unseen category
    bad["order_id"] = bad["order_id"].astype("float64")
    bad.loc[20, "order_id"] = None  # null in a non-null column
    return bad


def test_a_fresh_sample_passes_within_the_tolerance() -> None:
    frame = orders()
    # Another sample of the same source has prices slightly beyond the first one's range:
    # the tolerance (or the few-outliers allowance) is what makes it acceptable.
    strict = schema_outcome(
        orders(seed=1), _stored(frame), "Dataset orders@2", range_outlier_share=0.0
    )
    assert not strict.passed
    lenient = schema_outcome(orders(seed=1), _stored(frame), "Dataset orders@2")
    assert lenient.passed
    assert set(lenient.details["tolerated"]) == {"price"}
    outcome = schema_outcome(orders(seed=1), _stored(frame, 0.05), "Dataset orders@2")
    assert outcome.passed
    assert outcome.value == 0
    assert "matches orders schema v1" in outcome.explanation


def test_corrupted_version_fails_naming_each_column_and_its_values() -> None:
    frame = orders()
    outcome = schema_outcome(_corrupt(frame), _stored(frame), "Dataset orders@2")
    assert not outcome.passed
    columns = outcome.details["columns"]
    assert set(columns) == {"quantity", "price", "region", "order_id"}
    assert outcome.value == 4
    assert set(columns["quantity"]["examples"]) == {"three", "n/a"}
    assert columns["price"]["examples"] == [-4.5]
    assert any(c.startswith("in_range") for c in columns["price"]["checks"])
    assert columns["region"] == {
        "checks": ["allowed categories"],
        "examples": ["atlantis"],
        "count": 1,
    }
    assert "not null" in columns["order_id"]["checks"]
    for text in (
        "'quantity'",
        "'three'",
        "'price'",
        "-4.5",
        "'region'",
        "'atlantis'",
        "'order_id'",
        "null",
    ):
        assert text in outcome.explanation
    assert outcome.explanation.startswith(
        "Dataset orders@2 does not match orders schema v1: 4 columns fail validation"
    )


def test_numbers_stored_as_text_are_still_range_checked() -> None:
    frame = orders()
    bad = frame.assign(price=frame["price"].astype(str))
    bad.loc[0, "price"] = "-1"
    failures, _ = validate_frame(bad, infer_frame_schema(frame))
    assert -1.0 in failures["price"].examples
    assert "type float64" in failures["price"].checks


def test_examples_are_capped_and_distinct() -> None:
    frame = orders()
    bad = frame.assign(region=[f"r{i % 9}" for i in range(len(frame))])
    failures, _ = validate_frame(bad, infer_frame_schema(frame), max_examples=3)
    assert len(failures["region"].examples) == 3
    assert failures["region"].count == len(frame)


def test_repeated_ids_fail_uniqueness() -> None:
    frame = orders()
    bad = frame.assign(order_id=frame["order_id"].where(frame.index != 5, 1))
    failures, _ = validate_frame(bad, infer_frame_schema(frame))
    assert failures["order_id"].checks == ["unique"]
    assert failures["order_id"].examples == [1]


def test_a_missing_column_is_named() -> None:
    frame = orders()
    outcome = schema_outcome(frame.drop(columns=["region"]), _stored(frame), "Dataset orders@2")
    assert outcome.details["columns"]["region"]["checks"] == ["column present"]
    assert "'region' (column present)" in outcome.explanation


def test_row_count_outside_bounds_fails() -> None:
    frame = orders(200)
    outcome = schema_outcome(orders(50), _stored(frame), "Dataset orders@2")
    assert not outcome.passed
    assert outcome.details["row_count"] == {"rows": 50, "min": 100, "max": 400, "passed": False}
    assert "row count 50 outside 100-400" in outcome.explanation
