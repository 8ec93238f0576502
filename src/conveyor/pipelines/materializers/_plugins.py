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
from importlib.metadata import EntryPoint
from typing import Any

from conveyor.core import PluginRegistry
from conveyor.pipelines.materializers._base import Materializer, import_failed, qualified_name
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
    BuiltinEntry("xgboost", f"{_PKG}._models:XGBoostMaterializer", ("xgboost",)),
    BuiltinEntry("lightgbm", f"{_PKG}._models:LightGBMMaterializer", ("lightgbm",)),
    BuiltinEntry("torch.module", f"{_PKG}._models:TorchModuleMaterializer", ("torch",)),
    BuiltinEntry("sklearn.skops", f"{_PKG}._models:SkopsMaterializer", ("sklearn",)),
)

_REGISTER_EXAMPLE = """\
from conveyor.pipelines.materializers import Materializer, register_materializer

@register_materializer
class {cls}Materializer(Materializer):  # name, version, media_type, handles, save, load
    ..."""


class MaterializerRegistry:
    """Resolves values and names to materializer instances. Thread-safe.

    Classes are kept in a :class:`~conveyor.core.PluginRegistry`; this class adds the
    matching of a value's type and the order in which user materializers are tried.
    """

    def __init__(self, builtins: tuple[BuiltinEntry, ...] = BUILTINS) -> None:
        self._builtins = {entry.name: entry for entry in builtins}
        self._store: PluginRegistry[Materializer] = PluginRegistry(
            "materializer",
            Materializer,
            ENTRY_POINT_GROUP,
            {entry.name: entry.target for entry in builtins},
            validate=_validate,
            not_found=_not_found,
            plugin_error=_plugin_error,
            builtin_error=_builtin_error,
        )
        self._order: list[str] = []  # user materializer names, in the order they are tried
        self._instances: dict[type[Materializer], Materializer] = {}
        self._lock = threading.RLock()

    # -- registration --------------------------------------------------------------------

    def register(self, cls: type[Materializer], *, first: bool = False) -> type[Materializer]:
        """Add a user materializer (see :func:`register_materializer`)."""
        _check_class(cls)
        with self._lock:
            known = self._store.user().get(cls.name)
            if known is not None:  # the same class again (a re-run cell) keeps its place
                if not _same_definition(known, cls):
                    raise MaterializerError(
                        f"A materializer named {cls.name!r} is already registered "
                        f"({known.__module__}.{known.__qualname__}).",
                        hint="Give the new materializer a different `name`.",
                        materializer=cls.name,
                    )
            elif first:
                self._order.insert(0, cls.name)
            else:
                self._order.append(cls.name)
            self._store.register(cls)
        return cls

    def unregister(self, name: str) -> None:
        """Remove a user-registered materializer (built-ins and plug-ins stay)."""
        with self._lock:
            self._store.unregister(name)
            self._order = [known for known in self._order if known != name]

    # -- lookup --------------------------------------------------------------------------

    def get(self, name: str) -> Materializer:
        """The materializer registered as ``name`` (user, then plug-in, then built-in)."""
        return self._instance(self._store.get(name))

    def for_type(self, value_type: type) -> Materializer:
        """The most specific materializer for ``value_type`` (see :class:`Materializer`)."""
        mro = value_type.__mro__
        roots = {klass.__module__.partition(".")[0] for klass in mro}
        with self._lock:
            user = self._store.user()
            candidates = [user[name] for name in self._order]
            candidates += self._store.plugins().values()
            for entry in self._builtins.values():
                if roots.intersection(entry.roots):
                    candidates.append(self._store.builtin(entry.name))
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
            found = {name: self._store.builtin(name).version for name in self._builtins}
            found.update({name: cls.version for name, cls in self._store.plugins().items()})
            found.update({name: cls.version for name, cls in self._store.user().items()})
        return dict(sorted(found.items()))

    # -- internals -----------------------------------------------------------------------

    def _instance(self, cls: type[Materializer]) -> Materializer:
        with self._lock:
            if cls not in self._instances:
                self._instances[cls] = cls()
            return self._instances[cls]


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


def _validate(cls: Any, origin: str) -> type[Materializer]:
    del origin  # the message names the class itself
    return _check_class(cls)


def _not_found(name: str, known: list[str]) -> MaterializerNotFoundError:
    return MaterializerNotFoundError(
        f"No materializer named {name!r} is registered.",
        hint=f"Known materializers: {', '.join(known)}. If {name!r} comes from a plug-in "
        "package or a project module, install or import it before loading.",
        materializer=name,
    )


def _plugin_error(point: EntryPoint, exc: Exception) -> MaterializerError:
    return MaterializerError(
        f"The materializer plug-in {point.name!r} ({point.value}) failed to load: {exc}.",
        hint="Fix or uninstall the package that declares it in the "
        f"{ENTRY_POINT_GROUP!r} entry-point group.",
        materializer=point.name,
    )


def _builtin_error(name: str, target: str, exc: Exception) -> MaterializerError:
    return import_failed(target, exc, materializer=name)
