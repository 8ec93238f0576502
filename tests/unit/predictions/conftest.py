"""Fixtures of the prediction-log unit tests: prediction logs on real SQLite stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.predictions import PredictionLog
from conveyor.store import open_store


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Callable[[str], PredictionLog]]:
    """Open prediction logs, each on its own SQLite store and artifact folder."""
    with ExitStack() as stack:

        def make(name: str) -> PredictionLog:
            url = f"sqlite:///{tmp_path / name / 'conveyor.db'}"
            store = stack.enter_context(open_store(url))
            artifacts = open_artifact_store(str(tmp_path / name / "artifacts"))
            return PredictionLog(store, artifacts, actor=Actor("server"), root=tmp_path)

        yield make
