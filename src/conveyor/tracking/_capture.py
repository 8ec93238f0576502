"""Capture what a run ran: the code version (git) and the Python environment.

Both are read when a top-level run starts, so both must be cheap: the code version is one
``git status`` (plus ``git diff`` only when tracked files changed), and the environment is
read once per process, from a small cache file when one is given and the folders that
hold installed distributions have not changed since it was written. The ``git status``
can run while the caller does other work (:func:`probe_code_version`): it is a separate
process, so it takes none of this one's time until its answer is needed.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from conveyor.core import hash_bytes

_GIT_TIMEOUT_S = 10.0
#: Bump when the cached environment's composition changes, so old files stop matching.
_ENV_CACHE_FORMAT = 1

_env_lock = threading.Lock()
#: The environment of this process, once read (a process has one).
_env: list[dict[str, Any]] = []


#: One process gives both the commit (the branch header) and the changes.
_STATUS_ARGS = ("status", "--porcelain=v2", "--branch", "-z")


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


class CodeVersionProbe:
    """A ``git status`` of a project started now, read when :meth:`result` is called.

    The caller does other work while git runs (in its own process), then asks for the
    result, which is exactly what :func:`capture_code_version` returns for the state git
    saw. Made by :func:`probe_code_version`. Not thread-safe: one caller reads it.

    Args:
        root: A folder inside the git work tree.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._value: dict[str, Any] | None = None
        self._read = False
        self._process: subprocess.Popen[bytes] | None
        try:
            self._process = subprocess.Popen(
                ["git", *_STATUS_ARGS],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:  # git not installed, or the folder is gone
            self._process = None

    def result(self) -> dict[str, Any] | None:
        """Wait for git and return the code version (see :func:`capture_code_version`)."""
        if not self._read:
            self._value = self._finish()
            self._read = True
        return self._value

    def _finish(self) -> dict[str, Any] | None:
        process = self._process
        if process is None:
            return None
        try:
            status, _ = process.communicate(timeout=_GIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return None
        if process.returncode != 0:
            return None
        return _code_version(self.root, status)


def probe_code_version(root: str | Path) -> CodeVersionProbe:
    """Start reading the git state of the project at ``root``; see :class:`CodeVersionProbe`.

    Example:
        >>> probe = probe_code_version(".")  # doctest: +SKIP
        >>> ...  # other work while git runs  # doctest: +SKIP
        >>> probe.result()["commit"]  # doctest: +SKIP
        '3f2a9c...'
    """
    return CodeVersionProbe(root)


def capture_code_version(root: str | Path) -> dict[str, Any] | None:
    """The git state of the project at ``root``.

    Args:
        root: A folder inside the git work tree.

    Returns:
        ``{"commit": sha, "dirty": bool, "diff_hash": str | None}`` where ``dirty`` means
        ``git status`` shows any change (untracked files included) and ``diff_hash`` is the
        BLAKE3 of ``git diff HEAD`` (``None`` when that diff is empty), so two dirty runs of
        one commit can be told apart. ``None`` when ``root`` is not in a git work tree
        with at least one commit, or git is not installed.
    """
    return probe_code_version(root).result()


def _code_version(path: Path, status: bytes) -> dict[str, Any] | None:
    """The code version from the output of ``git status`` (:data:`_STATUS_ARGS`)."""
    commit: str | None = None
    changes: list[bytes] = []
    for entry in status.split(b"\0"):
        if entry.startswith(b"# branch.oid "):
            commit = entry[len(b"# branch.oid ") :].decode().strip()
        elif entry and not entry.startswith(b"#"):
            changes.append(entry)
    if commit is None or commit == "(initial)":
        return None
    diff_hash: str | None = None
    # Untracked files ("? path") are not in `git diff HEAD`: no need to ask for it then.
    if any(not entry.startswith(b"? ") for entry in changes):
        diff = _git(path, "diff", "HEAD", "--no-color", "--no-ext-diff")
        diff_hash = hash_bytes(diff) if diff else None
    return {"commit": commit, "dirty": bool(changes), "diff_hash": diff_hash}


def capture_environment(cache_dir: str | Path | None = None) -> dict[str, Any]:
    """The interpreter and installed packages (computed once per process).

    Args:
        cache_dir: A folder where the result may be kept between processes (the
            workspace's ``.conveyor``). It is reused while every folder on ``sys.path``
            keeps its modification time (installing or removing a distribution changes
            its folder's), so a new process does not read every distribution's metadata.

    Returns:
        ``{"python": "3.12.3", "platform": ..., "packages_hash": ...}``; the hash is the
        BLAKE3 of the sorted ``name==version`` lines of every installed distribution.
    """
    with _env_lock:
        if not _env:
            _env.append(_cached_environment(Path(cache_dir)) if cache_dir else _read_environment())
        return _env[0]


def _read_environment() -> dict[str, Any]:
    names = sorted({_name_version(dist) for dist in metadata.distributions()})
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "packages_hash": hash_bytes("\n".join(names).encode()),
    }


def _name_version(dist: metadata.Distribution) -> str:
    """``name==version`` of a distribution, as ``dist.metadata`` would give them.

    The two headers are read directly: parsing the whole file as an e-mail message (what
    ``dist.metadata`` does) costs about a millisecond per distribution.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name: str | None = None
    version: str | None = None
    for line in text.splitlines():
        if not line:  # the headers end at the first empty line
            break
        field = line[:8].lower()
        if name is None and field.startswith("name:"):
            name = line[5:].strip()
        elif version is None and field == "version:":
            version = line[8:].strip()
        if name is not None and version is not None:
            break
    return f"{(name or '').lower()}=={version}"


def _path_fingerprint() -> list[list[Any]]:
    """``[folder, mtime]`` of each ``sys.path`` folder holding distribution metadata.

    Folders without any (a script's own folder, the project) are left out, so processes
    started from different scripts share one cache entry.
    """
    found: list[list[Any]] = []
    for entry in dict.fromkeys(sys.path):
        folder = os.path.abspath(entry or ".")
        try:
            with os.scandir(folder) as children:
                holds = any(c.name.endswith((".dist-info", ".egg-info")) for c in children)
            if holds:
                found.append([folder, os.stat(folder).st_mtime_ns])
        except OSError:
            continue
    return found


def _cached_environment(folder: Path) -> dict[str, Any]:
    file = folder / "environment.json"
    key = {
        "format": _ENV_CACHE_FORMAT,
        "executable": sys.executable,
        "python": platform.python_version(),
        "path": _path_fingerprint(),
    }
    try:
        saved = json.loads(file.read_text())
        if saved.get("key") == key and isinstance(saved.get("environment"), dict):
            return dict(saved["environment"])
    except (OSError, ValueError, AttributeError):
        pass
    environment = _read_environment()
    if folder.is_dir():
        temporary = file.with_name(f"{file.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps({"key": key, "environment": environment}))
            os.replace(temporary, file)
        except OSError:  # a read-only workspace still records the environment
            temporary.unlink(missing_ok=True)
    return environment
