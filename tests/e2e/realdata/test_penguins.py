"""The whole loop on penguins (see projects.py for the data set and loop.py for the steps)."""

from __future__ import annotations

import pytest

from realdata.loop import LoopTests
from realdata.projects import penguins

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realdata_penguins")]


class TestPenguins(LoopTests):
    make_project = staticmethod(penguins)
