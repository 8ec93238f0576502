"""Paths read from a model directory or manifest are references that must stay inside it."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from conveyor.core._trust._errors import UnsafePathError


def resolve_inside(root: Path, reference: Any, *, what: str) -> Path:
    """Resolve ``reference`` (a relative path read from a file) inside ``root``.

    Symlinks are resolved, so a link pointing out of ``root`` is refused like ``../``.

    Raises:
        UnsafePathError: ``reference`` is not a string, is absolute, holds a NUL, or
            leads outside ``root``.

    Example:
        >>> resolve_inside(Path("/tmp"), "a/b.json", what="x").name
        'b.json'
    """
    text = reference if isinstance(reference, str) else repr(reference)
    base = root.resolve()
    problem = None
    if not isinstance(reference, str) or not reference or "\x00" in reference:
        problem = "it is not a relative path"
    elif PurePosixPath(reference).is_absolute() or PureWindowsPath(reference).anchor:
        problem = "it is absolute"
    else:
        target = (base / reference).resolve()
        if target.is_relative_to(base):
            return target
        problem = "it leads outside the folder"
    raise UnsafePathError(
        f"Refusing {what} {text[:200]!r}: {problem} ({root}).",
        hint="Paths inside a model directory must be relative and stay inside it; the "
        "directory was crafted or damaged.",
        path=text[:200],
        root=str(root),
    )
