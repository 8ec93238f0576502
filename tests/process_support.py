"""Probes run in a fresh Python process: what a script reports when nothing was imported
before it (the test process has loaded much more than a user's process would)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from server_support import cli_env


def fresh_process_report(
    script: str,
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> Any:
    """Run ``python -c script *args`` in a process of its own; return the JSON its last line
    of stdout prints.

    ``env`` defaults to :func:`cli_env` (this environment without ``CONVEYOR_*``); the
    script must exit 0 (its stderr is shown otherwise).
    """
    run = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=cli_env() if env is None else env,
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])
