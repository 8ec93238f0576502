"""Which materializer saves which type: built-ins, entry-point plug-ins and user classes.

Built-ins are declared as ``name -> "module:Class"`` and imported only when a value whose
class hierarchy touches one of their libraries is saved (or their name is loaded), so
saving a dict never imports torch. Plug-ins register through the entry-point group
``conveyor.materializers`` (read once per process); users call
:func:`register_materializer`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from conveyor.pipelines.materializers._base import Materializer, import_class, qualified_name
from conveyor.pipelines.materializers._errors import (
    MaterializerError,
    MaterializerNotFoundError,
    UnsupportedTypeError,
)

ENTRY_POINT_GROUP = "conveyor.materializers"
_PKG = "conveyor.pipelines.materializers"


@dataclass(frozen=True)
class BuiltinEntry:
    """A built-in materializer, declared without importing it.

    Attributes:
        name: Registry name (equal to the class's ``name``).
        target: ``"module:Class"`` of the implementation.
        roots: Top-level modules of the types it handles; it is only considered for a
            value whose MRO has a class from one of them.
    """

    name: str
    target: str
    roots: tuple[str, ...]


# Order breaks ties between equally specific matches.
BUILTINS: tuple[BuiltinEntry, ...] = (
    BuiltinEntry("pandas.dataframe", f"{_PKG}._tabular:PandasDataFrameMaterializer", ("pandas",)),
    BuiltinEntry("pandas.series", f"{_PKG}._tabular:PandasSeriesMaterializer", ("pandas",)),
    BuiltinEntry("polars.dataframe", f"{_PKG}._tabular:PolarsDataFrameMaterializer", ("polars",)),
    BuiltinEntry("numpy.ndarray", f"{_PKG}._arrays:NumpyMaterializer", ("numpy",)),
    BuiltinEntry("json", f"{_PKG}._builtins:JsonMaterializer", ("builtins",)),
    BuiltinEntry("bytes", f"{_PKG}._builtins:BytesMaterializer", ("builtins",)),
    BuiltinEntry("path", f"{_PKG}._builtins:PathMaterializer", ("pathlib",)),
    BuiltinEntry("xgboost", f"{_PKG}._boosting:XGBoostMaterializer", ("xgboost",)),
    BuiltinEntry("lightgbm", f"{_PKG}._boosting:LightGBMMaterializer", ("lightgbm",)),
    BuiltinEntry("torch.module", f"{_PKG}._torch:TorchModuleMaterializer", ("torch",)),
    BuiltinEntry("sklearn.skops", f"{_PKG}._sklearn:SkopsMaterializer", ("sklearn",)),
)

_REGISTER_EXAMPLE = """\
from conveyor.pipelines.materializers import Materializer, register_materializer

@register_materializer
class {cls}Materializer(Materializer):  # name, version, media_type, handles, save, load
    ..."""


class MaterializerRegistry:
    """Resolves values and names to materializer instances. Thread-safe."""

    def __init__(self, builtins: tuple[BuiltinEntry, ...] = BUILTINS) -> None:
        self._builtins = {entry.name: entry for entry in builtins}
        self._user: list[type[Materializer]] = []
        self._plugins: dict[str, type[Materializer]] | None = None
        self._instances: dict[type[Materializer], Materializer] = {}
        self._lock = threading.RLock()

    # -- registration --------------------------------------------------------------------

    def register(self, cls: type[Materializer], *, first: bool = False) -> type[Materializer]:
        """Add a user materializer (see :func:`register_materializer`)."""
        _check_class(cls)
        with self._lock:
            for index, known in enumerate(self._user):
                if known.name == cls.name:
                    if _same_definition(known, cls):  # re-run of a module or notebook cell
                        self._user[index] = cls
                        return cls
                    raise MaterializerError(
                        f"A materializer named {cls.name!r} is already registered "
                        f"({known.__module__}.{known.__qualname__}).",
                        hint="Give the new materializer a different `name`.",
                        materializer=cls.name,
                    )
            if first:
                self._user.insert(0, cls)
            else:
                self._user.append(cls)
        return cls

    def unregister(self, name: str) -> None:
        """Remove a user-registered materializer (built-ins and plug-ins stay)."""
        with self._lock:
            self._user = [cls for cls in self._user if cls.name != name]

    # -- lookup --------------------------------------------------------------------------

    def get(self, name: str) -> Materializer:
        """The materializer registered as ``name`` (user, then plug-in, then built-in)."""
        with self._lock:
            for cls in self._user:
                if cls.name == name:
                    return self._instance(cls)
            plugins = self._load_plugins()
            if name in plugins:
                return self._instance(plugins[name])
            if name in self._builtins:
                return self._instance(self._builtin_class(self._builtins[name]))
            known = sorted({c.name for c in self._user} | set(plugins) | set(self._builtins))
        raise MaterializerNotFoundError(
            f"No materializer named {name!r} is registered.",
            hint=f"Known materializers: {', '.join(known)}. If {name!r} comes from a plug-in "
            "package or a project module, install or import it before loading.",
            materializer=name,
        )

    def for_type(self, value_type: type) -> Materializer:
        """The most specific materializer for ``value_type`` (see :class:`Materializer`)."""
        mro = value_type.__mro__
        roots = {klass.__module__.partition(".")[0] for klass in mro}
        with self._lock:
            candidates = [*self._user, *self._load_plugins().values()]
            for entry in self._builtins.values():
                if roots.intersection(entry.roots):
                    candidates.append(self._builtin_class(entry))
            best: type[Materializer] | None = None
            best_depth = len(mro)
            for cls in candidates:
                depth = _generality(cls, mro)
                if depth is not None and depth < best_depth:
                    best, best_depth = cls, depth
            if best is not None:
                return self._instance(best)
        name = qualified_name(value_type)
        raise UnsupportedTypeError(
            f"No materializer can save a value of type {name}.",
            hint="Return a supported type (DataFrame, ndarray, JSON-able value, bytes, Path, "
            "estimator, torch module) or register a materializer for it:\n"
            + _REGISTER_EXAMPLE.format(cls=value_type.__name__),
            type_name=name,
        )

    def versions(self) -> dict[str, int]:
        """``{name: version}`` of every materializer a lookup can return."""
        with self._lock:
            found = {e.name: self._builtin_class(e).version for e in self._builtins.values()}
            found.update({name: cls.version for name, cls in self._load_plugins().items()})
            found.update({cls.name: cls.version for cls in self._user})
        return dict(sorted(found.items()))

    # -- internals -----------------------------------------------------------------------

    def _instance(self, cls: type[Materializer]) -> Materializer:
        if cls not in self._instances:
            self._instances[cls] = cls()
        return self._instances[cls]

    def _builtin_class(self, entry: BuiltinEntry) -> type[Materializer]:
        cls = import_class(entry.target, materializer=entry.name)
        return _check_class(cls)

    def _load_plugins(self) -> dict[str, type[Materializer]]:
        if self._plugins is None:
            plugins: dict[str, type[Materializer]] = {}
            for point in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded: Any = point.load()
                except Exception as exc:
                    raise MaterializerError(
                        f"The materializer plug-in {point.name!r} ({point.value}) failed to "
                        f"load: {exc}.",
                        hint="Fix or uninstall the package that declares it in the "
                        f"{ENTRY_POINT_GROUP!r} entry-point group.",
                        materializer=point.name,
                    ) from exc
                plugins[_check_class(loaded).name] = loaded
            self._plugins = plugins
        return self._plugins


def _generality(cls: type[Materializer], mro: tuple[type, ...]) -> int | None:
    """Index in ``mro`` of the most general class ``cls`` handles, or ``None``."""
    handled = [index for index, klass in enumerate(mro) if cls.handles(klass)]
    return max(handled) if handled else None


def _check_class(cls: Any) -> type[Materializer]:
    if not (isinstance(cls, type) and issubclass(cls, Materializer)):
        raise MaterializerError(
            f"{cls!r} is not a Materializer subclass.",
            hint="Subclass conveyor.pipelines.materializers.Materializer.",
        )
    missing = [a for a in ("name", "version", "media_type") if not hasattr(cls, a)]
    if missing:
        raise MaterializerError(
            f"Materializer {cls.__qualname__} does not set {', '.join(missing)}.",
            hint="Set the class attributes name (str), version (int) and media_type (str).",
        )
    return cls


def _same_definition(a: type, b: type) -> bool:
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)
