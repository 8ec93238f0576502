"""Fixtures of the monitoring unit tests: the reference profile."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from monitoring_support import reference_table

from conveyor.data import compute_profile


@pytest.fixture(scope="session")
def profile() -> dict[str, Any]:
    """The profile of the reference table (what `data add` stores)."""
    return compute_profile(pa.Table.from_pandas(reference_table(), preserve_index=False))
