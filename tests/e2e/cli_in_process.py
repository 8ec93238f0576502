"""The CLI called in this process, for end-to-end tests that are not about the process.

Starting ``python -m conveyor`` costs one to two seconds of imports per command. Tests of
what a command does (its output, exit code and effects) call :func:`conveyor.cli.main`
instead, the function the console script runs; each command family keeps at least one
test that starts the real process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from conveyor.cli import main


@dataclass(frozen=True)
class Ran:
    """What one command did: its exit code and both streams."""

    returncode: int
    stdout: str
    stderr: str


class CliInProcess(Protocol):
    """``run(cwd, *args, **env)``: ``conveyor ARGS`` in ``cwd``, with ``env`` set."""

    def __call__(self, cwd: Path, *args: str, **env: str) -> Ran:
        """Run one command and return what it did."""


def in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], actor: str = "e2e"
) -> CliInProcess:
    """A runner for ``conveyor`` commands as ``actor``, on a 200-column terminal.

    The environment is the test's (no ``CONVEYOR_*`` of the developer's) plus each call's
    ``env``; the working folder is the call's ``cwd``; both are restored after the call.
    """
    monkeypatch.setenv("CONVEYOR_ACTOR", actor)
    monkeypatch.setenv("COLUMNS", "200")

    def run(cwd: Path, *args: str, **env: str) -> Ran:
        with monkeypatch.context() as patch:
            patch.chdir(cwd)
            for key, value in env.items():
                patch.setenv(key, value)
            capsys.readouterr()
            code = main(list(args))
            out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run
