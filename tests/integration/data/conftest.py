"""Fixtures for dataset tests (helpers live in ``data_workspace``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from data_workspace import Workspace, open_workspace


@pytest.fixture
def make_workspace(tmp_path: Path) -> Iterator[Callable[..., Workspace]]:
    opened: list[Workspace] = []

    def make(name: str = "project", metadata_url: str | None = None) -> Workspace:
        ws = open_workspace(tmp_path / name, metadata_url)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.store.close()


@pytest.fixture
def ws(make_workspace: Callable[..., Workspace]) -> Workspace:
    return make_workspace()
