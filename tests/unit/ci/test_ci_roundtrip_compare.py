"""Comparing served predictions with direct ones, row by row."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conveyor.ci._roundtrip import compare


def test_identical_predictions_match() -> None:
    outcome = compare([0, 1, 1], [0, 1, 1])
    assert (outcome.rows, outcome.mismatches, outcome.max_abs_diff) == (3, 0, 0.0)


def test_a_different_label_is_a_mismatch_with_an_example() -> None:
    outcome = compare([0, 1, 0], [0, 1, 1])
    assert outcome.mismatches == 1
    assert outcome.examples == [{"row": 2, "served": 0, "direct": 1}]


def test_numbers_within_tolerance_match_and_beyond_do_not() -> None:
    assert compare([0.5000001], [0.5], tolerance=1e-6).mismatches == 0
    outcome = compare([0.6], [0.5], tolerance=1e-6)
    assert outcome.mismatches == 1
    assert abs(outcome.max_abs_diff - 0.1) < 1e-12


def test_probability_rows_compare_elementwise() -> None:
    assert compare([[0.2, 0.8]], [[0.2, 0.8]]).mismatches == 0
    assert compare([[0.2, 0.8]], [[0.3, 0.7]]).mismatches == 1


def test_a_wrong_number_of_predictions_is_reported() -> None:
    outcome = compare([1], [1, 0])
    assert outcome.mismatches == 2
    assert "1 predictions for 2 rows" in (outcome.error or "")


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=30))
def test_any_list_matches_itself(values: list[float]) -> None:
    assert compare(values, list(values)).mismatches == 0
