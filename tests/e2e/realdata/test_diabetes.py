"""The whole loop on diabetes (see projects.py for the data set and loop.py for the steps)."""

from __future__ import annotations

import pytest

from realdata.loop import LoopTests
from realdata.projects import diabetes

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realdata_diabetes")]


class TestDiabetes(LoopTests):
    make_project = staticmethod(diabetes)
