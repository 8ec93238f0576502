"""``--since`` windows: what is read, and clear errors for what is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor.core import utcnow
from conveyor.cost import InvalidSinceError, parse_since
from conveyor.cost._since import since_start


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("45m", timedelta(minutes=45)),
        ("90s", timedelta(seconds=90)),
        (" 7d ", timedelta(days=7)),
        ("3650d", timedelta(days=3650)),
    ],
)
def test_a_whole_number_and_a_unit_is_a_window(text: str, expected: timedelta) -> None:
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["banana", "", "30", "d", "1.5d", "30 days", "30y"])
def test_text_that_is_not_a_window_names_the_value_and_the_form(text: str) -> None:
    with pytest.raises(InvalidSinceError, match="expected a whole number and a unit") as caught:
        parse_since(text)
    assert repr(text) in caught.value.message
    assert caught.value.hint is not None
    assert "30d" in caught.value.hint


@pytest.mark.parametrize("text", ["-5d", "0d", "0h"])
def test_zero_or_negative_windows_are_refused(text: str) -> None:
    with pytest.raises(InvalidSinceError, match="must be positive"):
        parse_since(text)


@pytest.mark.parametrize("text", ["3651d", "99999999999999999999d", "600w", "9999999h"])
def test_windows_longer_than_ten_years_are_refused_not_clamped(text: str) -> None:
    with pytest.raises(InvalidSinceError, match="longer than the longest window, 3650d"):
        parse_since(text)


def test_the_start_of_a_window_is_that_long_before_now() -> None:
    before = utcnow()
    start = since_start("1d")
    assert start is not None
    assert (
        before - timedelta(days=1) - timedelta(seconds=5) <= start <= utcnow() - timedelta(days=1)
    )
    assert since_start(None) is None
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert since_start(moment) == moment


def test_a_naive_start_time_and_a_negative_duration_are_refused() -> None:
    with pytest.raises(InvalidSinceError, match="no time zone"):
        since_start(datetime(2026, 1, 1))
    with pytest.raises(InvalidSinceError, match="must be positive"):
        since_start(timedelta(days=-1))


def test_the_error_is_a_value_error_with_its_own_code() -> None:
    assert issubclass(InvalidSinceError, ValueError)
    assert InvalidSinceError.code == "invalid_since"
