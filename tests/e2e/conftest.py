"""End-to-end fixtures: the CLI in this process (see ``cli_in_process.py``)."""

from __future__ import annotations

import pytest
from cli_in_process import CliInProcess, in_process


@pytest.fixture
def conveyor_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> CliInProcess:
    """``run(cwd, *args, **env)``: ``conveyor ARGS`` in this process, as actor ``e2e``."""
    return in_process(monkeypatch, capsys)
