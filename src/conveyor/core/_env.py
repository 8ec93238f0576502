"""The process environment: the one place conveyor's library code reads or sets it."""

from __future__ import annotations

import os
from collections.abc import Mapping


def process_env() -> Mapping[str, str]:
    """The process environment, for settings and for what conveyor hands to child processes.

    The one place conveyor's library code reads ``os.environ``: everything else receives
    an environment (``Workspace.open(env=...)``, ``Settings.environ``) or asks here, so a
    caller can always run conveyor against another environment, and tests never have to
    patch the process.
    """
    return os.environ


def set_process_env(values: Mapping[str, str]) -> None:
    """Set variables in the process environment, for child processes to read.

    For hand-offs only (the prediction server's uvicorn workers learn what to serve this
    way); configuration is never changed through it.
    """
    os.environ.update(values)
