"""Fixtures for tracking tests: a RunTracker on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore, open_artifact_store
from conveyor.core import Actor
from conveyor.store import MetadataStore, open_store
from conveyor.tracking import RunTracker


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return open_artifact_store(str(tmp_path / "artifacts"))


@pytest.fixture
def tracker(store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path) -> RunTracker:
    root = tmp_path / "project"
    root.mkdir()
    return RunTracker(store, artifacts, actor=Actor("tester"), root=root)
