"""Saving step outputs into the artifact store and loading them back."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from conveyor.artifacts import ArtifactStore
from conveyor.pipelines.materializers._base import Materializer, qualified_name
from conveyor.pipelines.materializers._errors import MaterializerError
from conveyor.pipelines.materializers._models import FlavorMaterializer
from conveyor.pipelines.materializers._plugins import MaterializerRegistry

_REGISTRY = MaterializerRegistry()
_M = TypeVar("_M", bound=type[Materializer])


@dataclass(frozen=True)
class SavedValue:
    """What :func:`save_value` stored: enough to record the output and load it again.

    Attributes:
        hash: Content hash of the stored file in the artifact store.
        size: Its size in bytes.
        materializer: Name of the materializer that wrote it.
        materializer_version: That materializer's format version.
        type_name: Public dotted name of the value's type (``"pandas.DataFrame"``).
        meta: JSON-able metadata the materializer needs to load it.
    """

    hash: str
    size: int
    materializer: str
    materializer_version: int
    type_name: str
    meta: dict[str, Any] = field(default_factory=dict)


def register_materializer(cls: _M, *, first: bool = False) -> _M:
    """Register a materializer class for the types its ``handles`` accepts.

    User materializers win over plug-ins and built-ins that match a value equally well;
    a materializer for a subclass wins over one for its base class. Usable as a decorator.

    Args:
        cls: A :class:`Materializer` subclass.
        first: Put it before the other user materializers (else after them).

    Raises:
        MaterializerError: ``cls`` is not a materializer, or its name is taken by another.

    Example:
        >>> @register_materializer  # doctest: +SKIP
        ... class FigureMaterializer(Materializer): ...
    """
    _REGISTRY.register(cls, first=first)
    return cls


def unregister_materializer(name: str) -> None:
    """Remove a user-registered materializer by name (a no-op for unknown names)."""
    _REGISTRY.unregister(name)


def materializer_for(value: object) -> Materializer:
    """Return the materializer that saves ``value``.

    Raises:
        UnsupportedTypeError: no materializer handles its type; the hint shows how to
            register one.

    Example:
        >>> materializer_for({"a": 1}).name
        'json'
    """
    return _REGISTRY.for_type(type(value))


def get_materializer(name: str) -> Materializer:
    """Return the materializer registered as ``name``.

    Raises:
        MaterializerNotFoundError: no such name; the hint lists the known ones.
    """
    return _REGISTRY.get(name)


def materializer_versions() -> dict[str, int]:
    """``{name: version}`` of every registered materializer, sorted by name.

    Part of step cache keys: a format change (version bump) invalidates cached outputs.
    """
    return _REGISTRY.versions()


def save_value(artifacts: ArtifactStore, value: object) -> SavedValue:
    """Save ``value`` with its materializer into ``artifacts``.

    Raises:
        UnsupportedTypeError: no materializer handles the value's type.
        MaterializerError: the materializer failed.

    Example:
        >>> saved = save_value(store, {"accuracy": 0.9})  # doctest: +SKIP
        >>> load_value(store, saved.hash, saved.materializer, saved.meta)  # doctest: +SKIP
        {'accuracy': 0.9}
    """
    materializer = materializer_for(value)
    with tempfile.TemporaryDirectory(prefix="conveyor-save-") as folder:
        path = Path(folder) / f"value{materializer.suffix}"
        meta = materializer.save(value, path)
        _check_meta(materializer, meta)
        info = artifacts.put_file(path)
    return SavedValue(
        hash=info.hash,
        size=info.size,
        materializer=materializer.name,
        materializer_version=materializer.version,
        type_name=qualified_name(type(value)),
        meta=meta,
    )


def load_value(
    artifacts: ArtifactStore,
    hash: str,
    materializer: str,
    meta: dict[str, Any] | None = None,
    *,
    workdir: Path | None = None,
    trusted: bool = False,
) -> Any:
    """Load the value stored as ``hash`` by the materializer named ``materializer``.

    The object is copied out of the store and verified against its hash first, so a
    tampered or corrupt file is never parsed.

    Args:
        artifacts: The store holding the object.
        hash: The object's content hash (``SavedValue.hash``).
        materializer: The materializer name recorded with it.
        meta: The metadata recorded with it.
        workdir: Folder for values that stay files (``Path`` outputs); default a new
            temporary folder. Other values are read from a temporary copy that is removed.
        trusted: The output was recorded as trusted (its author is trusted): a model may
            then name types and classes outside the load policy's lists. Never set it
            from anything read with the value.

    Raises:
        IntegrityError: the stored object does not match its hash.
        ArtifactNotFoundError: no such object.
        MaterializerNotFoundError: unknown materializer name.
        UntrustedTypeError: the file names types or classes that are not trusted to load.
    """
    chosen = get_materializer(materializer)
    if chosen.keeps_file:
        folder = (workdir or Path(tempfile.mkdtemp(prefix="conveyor-value-"))) / hash
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"value{chosen.suffix}"
        artifacts.get_file(hash, target)
        return _load(chosen, target, dict(meta or {}), trusted)
    with tempfile.TemporaryDirectory(prefix="conveyor-load-") as scratch:
        target = Path(scratch) / f"value{chosen.suffix}"
        artifacts.get_file(hash, target)
        return _load(chosen, target, dict(meta or {}), trusted)


def _load(chosen: Materializer, target: Path, meta: dict[str, Any], trusted: bool) -> Any:
    if isinstance(chosen, FlavorMaterializer):
        return chosen.load(target, meta, trusted=trusted)
    return chosen.load(target, meta)


def _check_meta(materializer: Materializer, meta: object) -> None:
    try:
        json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise MaterializerError(
            f"Materializer {materializer.name!r} returned metadata that is not JSON: {exc}.",
            hint="Return a dict of str, numbers, lists and dicts from save().",
            materializer=materializer.name,
        ) from exc
    if not isinstance(meta, dict):
        raise MaterializerError(
            f"Materializer {materializer.name!r} returned {type(meta).__name__} metadata.",
            hint="Return a dict (or {}) from save().",
            materializer=materializer.name,
        )
