"""Model references and alias names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import InvalidNameError
from conveyor.registry import ModelRef, parse_model_ref, validate_alias
from conveyor.registry._refs import format_versions


def test_refs_parse_number_alias_and_latest() -> None:
    assert parse_model_ref("churn@3") == ModelRef("churn", version=3)
    assert parse_model_ref("churn@v3") == ModelRef("churn", version=3)
    assert parse_model_ref("churn@champion") == ModelRef("churn", alias="champion")
    assert parse_model_ref("churn") == ModelRef("churn")
    assert parse_model_ref("churn@latest") == ModelRef("churn")
    assert str(ModelRef("churn")) == "churn@latest"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("churn@", "names no version or alias"),
        ("bad name@3", "Invalid model name"),
        ("churn@0", "versions are whole numbers"),
        ("churn@a/b", "Invalid alias name"),
    ],
)
def test_bad_refs_are_named_in_the_error(text: str, match: str) -> None:
    with pytest.raises(InvalidNameError, match=match):
        parse_model_ref(text)


@pytest.mark.parametrize("alias", ["123", "latest", "LATEST", "", "a@b"])
def test_aliases_cannot_read_as_versions_or_be_invalid(alias: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_alias(alias)


@given(st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=30))
def test_version_ranges_expand_back_to_the_same_numbers(numbers: list[int]) -> None:
    expanded: set[int] = set()
    for part in format_versions(numbers).split(", "):
        low, _, high = part.partition("-")
        expanded.update(range(int(low), int(high or low) + 1))
    assert expanded == set(numbers)


def test_version_ranges_compress() -> None:
    assert format_versions([1, 2, 3, 5]) == "1-3, 5"
    assert format_versions([]) == "none"
