"""A wheel of the running conveyor, for images (conveyor is not on a package index).

The wheel is built with ``pip wheel --no-deps`` from the source folder the running
conveyor was installed from (an editable or local-folder install, found through its
``direct_url.json``), or taken as is when conveyor was installed from a local wheel file.
Built wheels are cached under ``~/.cache/conveyor/wheels/<source hash>/`` (or
``$XDG_CACHE_HOME``), the hash covering ``pyproject.toml`` and every file under ``src/``,
so a second build of the same source copies the wheel instead of building it again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from conveyor.config import process_env
from conveyor.core import hash_bytes
from conveyor.infra._requirements import DISTRIBUTION, BuildError

__all__ = ["conveyor_wheel"]

#: How long building the wheel may take.
WHEEL_TIMEOUT_S = 600.0


def conveyor_wheel(into: Path) -> Path:
    """Put a wheel of the running conveyor into the folder ``into``; return its path.

    Raises:
        BuildError: conveyor was not installed from a local folder or wheel, or the
            wheel could not be built (pip's output in the message).
    """
    source = _source()
    into.mkdir(parents=True, exist_ok=True)
    if source.is_file():
        return Path(shutil.copy2(source, into / source.name))
    cache = _cache_root() / _source_hash(source)
    cached = sorted(cache.glob("*.whl")) if cache.is_dir() else []
    if not cached:
        cached = [_build(source, cache)]
    return Path(shutil.copy2(cached[0], into / cached[0].name))


def _source() -> Path:
    """The folder (or wheel file) the running conveyor was installed from."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        text = None
    url = str(json.loads(text).get("url", "")) if text else ""
    parsed = urlparse(url)
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else None
    if path is None or not path.exists():
        raise BuildError(
            f"Cannot find where {DISTRIBUTION} was installed from"
            + (f" ({url})" if url else "")
            + ": an image needs a wheel of it, and it is not on a package index.",
            hint="Install conveyor from its source checkout (`pip install -e .`) or from a "
            "local wheel file, then build again.",
            url=url or None,
        )
    return path


def _cache_root() -> Path:
    base = process_env().get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conveyor" / "wheels"


def _source_hash(source: Path) -> str:
    """A hash of what goes into the wheel: ``pyproject.toml`` and the files under ``src/``."""
    parts: list[bytes] = []
    files = [source / "pyproject.toml", *sorted((source / "src").rglob("*"))]
    for path in files:
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        rel = path.relative_to(source).as_posix()
        parts.append(rel.encode() + b"\0" + hash_bytes(path.read_bytes()).encode())
    return hash_bytes(b"\n".join(parts))[:32]


def _build(source: Path, cache: Path) -> Path:
    """Build the wheel into ``cache`` (atomically: a half-built cache is never used)."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.parent, prefix=".building-") as tmp:
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp, str(source)]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=WHEEL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BuildError(
                f"Building the conveyor wheel from {source} took over {WHEEL_TIMEOUT_S:.0f} s.",
                hint="Check the package index is reachable (pip fetches the build backend).",
                source=str(source),
            ) from exc
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            tail = (done.stderr or done.stdout).strip()[-1500:]
            raise BuildError(
                f"Building the conveyor wheel from {source} failed: {tail}",
                hint="Run `python -m pip wheel --no-deps SOURCE` there to see why.",
                source=str(source),
            )
        try:
            os.replace(tmp, cache)
        except OSError:  # another build filled the cache first: use it
            pass
        else:
            os.mkdir(tmp)  # TemporaryDirectory removes its folder on exit
    return sorted(cache.glob("*.whl"))[0]
