"""Hostile model references and stored text: huge version numbers, terminal escapes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import ConveyorError, InvalidNameError
from conveyor.registry import ModelRef, inert, parse_model_ref


@pytest.mark.parametrize("digits", ["9" * 20, "18446744073709551617", "2147483648", "9" * 5000])
def test_a_version_beyond_the_store_range_is_a_clear_error(digits: str) -> None:
    for ref in (f"churn@{digits}", f"churn@v{digits}"):
        with pytest.raises(InvalidNameError, match=r"versions are whole numbers from 1 to") as e:
            parse_model_ref(ref)
        assert isinstance(e.value, ConveyorError)
        assert len(e.value.message) < 300  # a 5,000-digit value is not echoed whole


def test_the_largest_version_and_leading_zeros_still_parse() -> None:
    assert parse_model_ref("churn@2147483647").version == 2147483647
    assert parse_model_ref("churn@" + "0" * 30 + "7").version == 7


def test_a_huge_version_given_as_a_number_is_refused() -> None:
    with pytest.raises(InvalidNameError, match="2147483647"):
        ModelRef("churn", version=10**20)


def test_inert_makes_terminal_escapes_visible() -> None:
    assert inert("ok\x1b[2J\x1b]0;pwned\x07end") == "ok\\x1b[2J\\x1b]0;pwned\\x07end"
    assert inert("bidi \u202etxt.exe") == "bidi \\u202etxt.exe"
    assert inert("C1 \x9b31m") == "C1 \\x9b31m"
    assert inert("lines\nand\ttabs") == "lines\nand\ttabs"
    assert inert("lines\nand\ttabs", newlines=False) == "lines\\x0aand\\x09tabs"


def test_inert_leaves_ordinary_text_alone() -> None:
    text = "Churn model, v2 — für Kunden (日本語), 100 % précis"
    assert inert(text) is text or inert(text) == text


@given(st.text())
def test_inert_output_holds_no_control_character(text: str) -> None:
    shown = inert(text, newlines=False)
    controls = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
    assert not [c for c in shown if unicodedata.category(c) in controls]
