"""``conveyor.lock``: the dataset versions a project pins, committed to git next to the code.

The file is JSON with one entry per dataset (``{"format": 1, "datasets": {name: {"version",
"content_hash"}}}``), keys sorted and indented so that diffs in review stay one line per
change. It is always replaced atomically (temporary file + ``os.replace``), and updates from
several processes are serialised by an advisory lock next to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from conveyor.core import is_hash, validate_name
from conveyor.errors import InvalidNameError, LockFileError

LOCK_FILE = "conveyor.lock"
_FORMAT = 1
_FIX = (
    "Fix the entry by hand, regenerate it with `conveyor data add <name> <path>`, "
    "or restore the file from git (`git checkout -- conveyor.lock`)."
)


class LockEntry(NamedTuple):
    """One pinned dataset version."""

    version: int
    content_hash: str


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an advisory inter-process lock on ``path`` (created if missing) while inside.

    Used so that two processes updating ``conveyor.lock`` do not lose each other's entries.
    Where ``fcntl`` is unavailable (Windows) the block runs unlocked.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _error(path: Path, what: str, **fields: Any) -> LockFileError:
    return LockFileError(f"{path} is malformed: {what}.", hint=_FIX, path=str(path), **fields)


def _parse_entry(path: Path, name: str, raw: object) -> LockEntry:
    key = f"datasets.{name}"
    try:
        validate_name(name, kind="dataset name")
    except InvalidNameError as exc:
        raise _error(path, f"key {key!r} is not a valid dataset name", key=key) from exc
    if not isinstance(raw, dict):
        raise _error(path, f"{key!r} must be an object with 'version' and 'content_hash'", key=key)
    unknown = sorted(set(raw) - {"version", "content_hash"})
    if unknown:
        raise _error(path, f"{key!r} has unknown keys {unknown}", key=key)
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _error(path, f"'{key}.version' must be a whole number >= 1, got {version!r}", key=key)
    content_hash = raw.get("content_hash")
    if not isinstance(content_hash, str) or not is_hash(content_hash):
        raise _error(
            path,
            f"'{key}.content_hash' must be 64 lowercase hex digits, got {content_hash!r}",
            key=f"{key}.content_hash",
        )
    return LockEntry(version, content_hash)


@dataclass
class LockFile:
    """The parsed ``conveyor.lock`` of a project.

    Attributes:
        path: Where the file lives (``<root>/conveyor.lock``).
        entries: Dataset name -> pinned :class:`LockEntry`.

    Example:
        >>> lock = LockFile.load(root)  # doctest: +SKIP
        >>> lock.pin("orders", 3, "ab" * 32)  # doctest: +SKIP
        >>> lock.save()  # doctest: +SKIP
    """

    path: Path
    entries: dict[str, LockEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> LockFile:
        """Read ``<root>/conveyor.lock``; a missing file is an empty lock.

        Raises:
            LockFileError: The file is not valid JSON (naming the line) or an entry is
                malformed (naming its key), with how to fix it.
        """
        path = Path(root) / LOCK_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise LockFileError(f"Cannot read {path}: {exc}.", hint=_FIX, path=str(path)) from exc
        return cls.parse(path, text)

    @classmethod
    def parse(cls, path: Path, text: str) -> LockFile:
        """Parse the text of a lock file (``path`` is used in messages only)."""
        if not text.strip():
            return cls(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LockFileError(
                f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                hint=_FIX,
                path=str(path),
                line=exc.lineno,
            ) from exc
        if not isinstance(data, dict):
            raise _error(path, "the top level must be a JSON object")
        if data.get("format") != _FORMAT:
            raise _error(
                path, f"key 'format' must be {_FORMAT}, got {data.get('format')!r}", key="format"
            )
        unknown = sorted(set(data) - {"format", "datasets"})
        if unknown:
            raise _error(path, f"unknown top-level keys {unknown}", key=unknown[0])
        datasets = data.get("datasets", {})
        if not isinstance(datasets, dict):
            raise _error(path, "key 'datasets' must be an object", key="datasets")
        entries = {name: _parse_entry(path, name, raw) for name, raw in datasets.items()}
        return cls(path, entries)

    def get(self, name: str) -> LockEntry | None:
        """The pinned entry of ``name``, or ``None``."""
        return self.entries.get(name)

    def pin(self, name: str, version: int, content_hash: str) -> None:
        """Pin ``name`` to ``version`` (in memory; call :meth:`save` to write)."""
        self.entries[validate_name(name, kind="dataset name")] = LockEntry(version, content_hash)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document as written."""
        return {
            "format": _FORMAT,
            "datasets": {
                name: {"version": e.version, "content_hash": e.content_hash}
                for name, e in sorted(self.entries.items())
            },
        }

    def save(self) -> None:
        """Write the file atomically (temporary file in the same folder, then ``os.replace``)."""
        write_atomic(self.path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
