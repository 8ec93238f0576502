"""The whole loop on cancer (see projects.py for the data set and loop.py for the steps)."""

from __future__ import annotations

import pytest

from realdata.loop import LoopTests
from realdata.projects import imbalanced_cancer

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("realdata_cancer")]


class TestCancer(LoopTests):
    make_project = staticmethod(imbalanced_cancer)
