"""A generic, thread-safe registry of extension classes: user, plug-in and built-in.

Every extension point of conveyor (materializers, model flavors, checks, drift tests) has
the same shape: built-ins declared as ``name -> "module:Class"`` and imported only when
asked for, plug-ins read once per process from an entry-point group, and classes users
register at run time. Lookups prefer user classes, then plug-ins, then built-ins. Each
package supplies its own validation and error factories, so it keeps its own error
classes and messages.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


def import_object(path: str) -> Any:
    """Import the object named ``"module:Qualified.Name"``.

    Args:
        path: Module and dotted attribute path, separated by a colon.

    Returns:
        The object found.

    Raises:
        ValueError: ``path`` has no ``":"`` or an empty module name.
        ImportError: The module cannot be imported.
        AttributeError: The module has no such attribute.

    Example:
        >>> import_object("collections:OrderedDict.fromkeys").__name__
        'fromkeys'
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{path!r} is not of the form 'module:Qualified.Name'")
    found: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        found = getattr(found, part)
    return found


def class_path(value_type: type) -> str:
    """``"module:Qualified.Name"`` of a class, the form :func:`import_object` reads.

    Example:
        >>> class_path(dict)
        'builtins:dict'
    """
    return f"{value_type.__module__}:{value_type.__qualname__}"


class PluginRegistry(Generic[T]):
    """User, plug-in and built-in subclasses of ``base``, looked up by their ``name``.

    Thread-safe: every method may be called from many threads at once. Built-ins are
    imported on lookup (Python caches the import); plug-ins are read from the entry points
    once, on the first lookup, until :meth:`reset_plugins`.

    Args:
        kind: What the registry holds, for messages (``"flavor"``).
        base: The class every registered class must subclass (``T`` itself; typed
            ``type`` because extension bases are usually abstract).
        group: Entry-point group plug-ins declare themselves in.
        builtins: ``name -> "module:Class"`` of the built-ins. Read on every lookup, not
            copied, so later changes to the mapping are seen.
        validate: ``validate(obj, origin)`` returns ``obj`` as a class or raises the
            package's error; ``origin`` says where ``obj`` came from. Defaults to a check
            that ``obj`` subclasses ``base`` and has a string ``name``.
        not_found: Builds the error :meth:`get` raises from the unknown name and the sorted
            known names.
        plugin_error: Builds the error raised when an entry point fails to load.
        builtin_error: Builds the error raised when a built-in fails to import, from its
            name, target and the exception; ``None`` lets the exception through.
        plugin_origin: Format of a plug-in's ``origin`` (fields ``name`` and ``value``).
        skip_foreign_plugins: Ignore plug-ins that are not ``base`` subclasses instead of
            validating (and refusing) them.
        plugin_source: Returns the plug-in classes by name, called on every lookup,
            instead of the cached read of ``group``.

    Example:
        >>> class Shape:
        ...     name = "shape"
        >>> shapes = PluginRegistry("shape", Shape, "example.shapes", {})
        >>> @shapes.register
        ... class Square(Shape):
        ...     name = "square"
        >>> shapes.get("square") is Square
        True
    """

    def __init__(
        self,
        kind: str,
        base: type,
        group: str,
        builtins: Mapping[str, str],
        *,
        validate: Callable[[Any, str], type[T]] | None = None,
        not_found: Callable[[str, list[str]], Exception] | None = None,
        plugin_error: Callable[[EntryPoint, Exception], Exception] | None = None,
        builtin_error: Callable[[str, str, Exception], Exception] | None = None,
        plugin_origin: str = "entry point {name!r} ({value})",
        skip_foreign_plugins: bool = False,
        plugin_source: Callable[[], Mapping[str, type[T]]] | None = None,
    ) -> None:
        self.kind = kind
        self.base = base
        self.group = group
        self.builtins = builtins
        self._validate = validate or self._default_validate
        self._not_found = not_found or self._default_not_found
        self._plugin_error = plugin_error or self._default_plugin_error
        self._builtin_error = builtin_error
        self._plugin_origin = plugin_origin
        self._skip_foreign = skip_foreign_plugins
        self._plugin_source = plugin_source
        self._user: dict[str, type[T]] = {}
        self._plugins: dict[str, type[T]] | None = None
        self._lock = threading.RLock()

    # -- registration --------------------------------------------------------------------

    def register(self, cls: type[T], *, origin: str = "register") -> type[T]:
        """Add (or replace) ``cls`` under its ``name``; usable as a class decorator."""
        checked = self._validate(cls, origin)
        with self._lock:
            self._user[_name(checked)] = checked
        return cls

    def unregister(self, name: str) -> None:
        """Remove a user-registered class (built-ins and plug-ins stay); no-op if absent."""
        with self._lock:
            self._user.pop(name, None)

    def reset_plugins(self) -> None:
        """Forget the loaded plug-ins so the next lookup reads the entry points again."""
        with self._lock:
            self._plugins = None

    # -- lookup --------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every name a lookup can return, sorted (imports plug-ins, never built-ins)."""
        with self._lock:
            return sorted({*self._user, *self.plugins(), *self.builtins})

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``: user, then plug-in, then built-in.

        Raises:
            Exception: The ``not_found`` error when no class has that name, the
                ``builtin_error`` one when the built-in fails to import.
        """
        with self._lock:
            found = self._user.get(name)
            if found is None:
                found = self.plugins().get(name)
            if found is not None:
                return found
            target = self.builtins.get(name)
        if target is None:
            raise self._not_found(name, self.names())
        return self.builtin(name)

    def user(self) -> dict[str, type[T]]:
        """A copy of the user-registered classes, in registration order."""
        with self._lock:
            return dict(self._user)

    def plugins(self) -> dict[str, type[T]]:
        """The plug-in classes by name (entry points are read on the first call)."""
        if self._plugin_source is not None:
            return dict(self._plugin_source())
        with self._lock:
            if self._plugins is None:
                self._plugins = self.load_entry_points(entry_points(group=self.group))
            return self._plugins

    def builtin(self, name: str) -> type[T]:
        """Import and validate the built-in declared as ``name``.

        Raises:
            KeyError: No built-in has that name.
        """
        target = self.builtins[name]
        try:
            found = import_object(target)
        except (ImportError, AttributeError, ValueError) as exc:
            if self._builtin_error is None:
                raise
            raise self._builtin_error(name, target, exc) from exc
        return self._validate(found, target)

    def load_entry_points(self, points: Iterable[EntryPoint]) -> dict[str, type[T]]:
        """Load plug-in classes from ``points``, keyed by each class's ``name``.

        Raises:
            Exception: The ``plugin_error`` error when a point fails to load, the
                ``validate`` one when it does not name a valid class.
        """
        found: dict[str, type[T]] = {}
        for point in points:
            try:
                loaded: Any = point.load()
            except Exception as exc:  # a plug-in may fail in any way; name it
                raise self._plugin_error(point, exc) from exc
            if self._skip_foreign and not (
                isinstance(loaded, type) and issubclass(loaded, self.base)
            ):
                continue
            origin = self._plugin_origin.format(name=point.name, value=point.value)
            checked = self._validate(loaded, origin)
            found[_name(checked)] = checked
        return found

    # -- defaults ------------------------------------------------------------------------

    def _default_validate(self, obj: Any, origin: str) -> type[T]:
        if not (
            isinstance(obj, type)
            and issubclass(obj, self.base)
            and isinstance(getattr(obj, "name", None), str)
        ):
            raise TypeError(
                f"{obj!r} (from {origin}) is not a {self.base.__name__} subclass with a `name`."
            )
        return cast("type[T]", obj)

    def _default_not_found(self, name: str, known: list[str]) -> Exception:
        return KeyError(f"No {self.kind} named {name!r}; known: {', '.join(known)}.")

    def _default_plugin_error(self, point: EntryPoint, exc: Exception) -> Exception:
        return ImportError(
            f"The {self.kind} plug-in {point.name!r} ({point.value}) failed to load: {exc}."
        )


def _name(cls: type) -> str:
    name: str = getattr(cls, "name", "")  # the validator guarantees a str `name`
    return name
