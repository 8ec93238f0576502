"""Real git repositories for tests, committed under a fixed identity."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


def git(root: Path, *args: str) -> bytes:
    """Run ``git *args`` in ``root`` as user ``t``; its stdout (fails if git does)."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        check=True,
    )
    return done.stdout


def git_repository(root: Path, files: Mapping[str, str], *, branch: str | None = None) -> str:
    """Make ``root`` a git repository whose one commit, "first", holds ``files`` (written
    into ``root``) and whatever ``root`` held already; return that commit."""
    git(root, "init", "-q", *(("-b", branch) if branch else ()))
    for name, text in files.items():
        (root / name).write_text(text)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return git(root, "rev-parse", "HEAD").decode().strip()
