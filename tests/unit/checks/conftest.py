"""Fixtures: a registered relative check, for first-model gate decisions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from checks_core_support import VersusChampionCheck

from conveyor.checks import register_check, unregister_check


@pytest.fixture(autouse=True)
def _relative_check() -> Iterator[None]:
    register_check(VersusChampionCheck)
    yield
    unregister_check(VersusChampionCheck.name)
