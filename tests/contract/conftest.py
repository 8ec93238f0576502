"""Contract suites of the records interfaces, run against the SQL implementations.

Each ``test_<package>_records.py`` subclasses the suite shipped in
``conveyor.testing.records`` and provides ``records`` over a metadata store on SQLite and
on PostgreSQL (the ``metadata_url`` fixture of the top-level conftest).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conveyor.core import Actor
from conveyor.store import MetadataStore, open_store


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    """A migrated, empty metadata store on SQLite or PostgreSQL."""
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def actor() -> Actor:
    """The actor every write of a contract test is recorded by."""
    return Actor(name="contract-tester", kind="user")
