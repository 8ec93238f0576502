"""Capture what a run ran: the code version (git) and the Python environment."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from conveyor.core import hash_bytes

_GIT_TIMEOUT_S = 10.0


def _git(root: Path, *args: str) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def capture_code_version(root: str | Path) -> dict[str, Any] | None:
    """The git state of the project at ``root``.

    Returns:
        ``{"commit": sha, "dirty": bool, "diff_hash": str | None}`` where ``dirty`` means
        ``git status`` shows any change (untracked files included) and ``diff_hash`` is the
        BLAKE3 of ``git diff HEAD`` (``None`` when that diff is empty), so two dirty runs of
        one commit can be told apart. ``None`` when ``root`` is not in a git work tree
        with at least one commit, or git is not installed.
    """
    path = Path(root)
    commit = _git(path, "rev-parse", "--verify", "HEAD")
    if commit is None:
        return None
    status = _git(path, "status", "--porcelain")
    diff = _git(path, "diff", "HEAD", "--no-color", "--no-ext-diff")
    return {
        "commit": commit.decode().strip(),
        "dirty": bool(status and status.strip()),
        "diff_hash": hash_bytes(diff) if diff else None,
    }


@functools.cache
def capture_environment() -> dict[str, Any]:
    """The interpreter and installed packages (computed once per process).

    Returns:
        ``{"python": "3.12.3", "platform": ..., "packages_hash": ...}``; the hash is the
        BLAKE3 of the sorted ``name==version`` lines of every installed distribution.
    """
    names = sorted(
        {
            f"{(dist.metadata['Name'] or '').lower()}=={dist.version}"
            for dist in metadata.distributions()
        }
    )
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "packages_hash": hash_bytes("\n".join(names).encode()),
    }
