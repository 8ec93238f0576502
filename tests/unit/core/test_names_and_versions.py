"""Names with a trailing dot and versions no store can hold are refused up front."""

from __future__ import annotations

import pytest

from conveyor.core import MAX_VERSION, validate_name, validate_version
from conveyor.errors import InvalidNameError, InvalidVersionError


@pytest.mark.parametrize("name", ["model.", "a.", "orders-2024.", "x" * 127 + "."])
def test_a_trailing_dot_is_refused(name: str) -> None:
    with pytest.raises(InvalidNameError, match=r"not ending with '\.'"):
        validate_name(name, kind="model name")


@pytest.mark.parametrize("name", ["a", "a.b", "v1.2.3", "churn_", "x-", "9", "x" * 128])
def test_names_with_inner_dots_still_pass(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("value", "number"), [("1", 1), ("v7", 7), (42, 42), (str(MAX_VERSION), MAX_VERSION)]
)
def test_valid_versions_are_numbers(value: object, number: int) -> None:
    assert validate_version(value) == number


@pytest.mark.parametrize(
    "value",
    [
        "12345678901234567890",  # 20 digits: past a 64-bit column
        str(MAX_VERSION + 1),
        "9" * 5000,
        "0",
        "-1",
        "3.5",
        "",
        "v",
        "٣",  # a non-ASCII digit
        True,
        None,
        2**64,
    ],
)
def test_impossible_versions_are_a_clear_error(value: object) -> None:
    with pytest.raises(
        InvalidVersionError, match=r"Invalid model version of 'churn'.*1 to"
    ) as info:
        validate_version(value, kind="model version", name="churn")
    assert info.value.hint is not None
    assert len(str(info.value)) < 200  # a 5,000-digit value is shown shortened
