"""Threaded per-file work handed out in chunks keeps order and raises the first error."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conveyor.data._scan import TASK_FILES, map_in_chunks


def test_results_come_back_in_order_across_chunks() -> None:
    items = list(range(TASK_FILES * 3 + 5))
    with ThreadPoolExecutor(4) as pool:
        assert list(map_in_chunks(pool, lambda x: x * x, items)) == [x * x for x in items]
        assert list(map_in_chunks(pool, lambda x: x, [])) == []


def test_an_error_in_one_item_is_raised() -> None:
    def fail_on_40(x: int) -> int:
        if x == 40:
            raise OSError("unreadable")
        return x

    with ThreadPoolExecutor(4) as pool, pytest.raises(OSError, match="unreadable"):
        list(map_in_chunks(pool, fail_on_40, list(range(100))))
