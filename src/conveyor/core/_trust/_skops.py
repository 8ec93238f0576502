"""skops imported without its walk of scikit-learn, and its default trust decided per name.

skops trusts every public scikit-learn estimator by default. It lists them when
``skops.io`` is first imported, with scikit-learn's ``all_estimators``: that imports every
public scikit-learn module (and torch, wherever it is installed, through scikit-learn's
array API support), seconds and hundreds of megabytes a server of one model never uses.
It lists the numpy and scipy ufuncs it trusts then too, looking each up in every
imported module.

:func:`skops_io` imports ``skops.io`` with those lists left to be made on first use, by
skops' own code: any caller that reads them gets exactly skops' lists. The load policy does
not read it. It asks skops for every type a file names outside skops' other defaults
(:func:`named_types`), and decides whether a scikit-learn name is a public estimator by
importing only the public module that would expose it (:func:`is_default_estimator`);
the full list is made only for a name that module does not settle.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, SupportsIndex, overload

_TRUSTED_TYPES = "skops.io._trusted_types"

# True while the load policy asks skops about one file: skops' estimator list then
# counts for nothing, every name the file uses is decided here and passed explicitly.
_EXACT: ContextVar[bool] = ContextVar("conveyor_skops_exact", default=False)
_IMPORTING = threading.Lock()


def skops_io() -> types.ModuleType:
    """``skops.io``, without its walk of scikit-learn when this process imports it first.

    Raises:
        ModuleNotFoundError: skops is not installed.
    """
    module = sys.modules.get("skops.io")
    if module is not None:
        return module
    with _IMPORTING:
        finder = _WalkDeferred()
        sys.meta_path.insert(0, finder)
        try:
            return importlib.import_module("skops.io")
        finally:
            sys.meta_path.remove(finder)


def named_types(data: bytes) -> list[str]:
    """Every type a skops archive names outside skops' defaults other than estimators, sorted.

    Public scikit-learn estimators are among them: :func:`is_default_estimator` decides
    those. The archive must already have passed the policy's size checks.
    """
    sio = skops_io()
    with exact_names():
        return sorted(str(name) for name in sio.get_untrusted_types(data=data))


@contextmanager
def exact_names() -> Iterator[None]:
    """While open, skops trusts no estimator by default in this context (thread or task)."""
    token = _EXACT.set(True)
    try:
        yield
    finally:
        _EXACT.reset(token)


def is_default_estimator(name: str) -> bool:
    """Whether skops trusts ``name`` by default as a public scikit-learn estimator.

    Exactly skops' rule (a class found by ``sklearn.utils.all_estimators``), settled for
    ``sklearn.linear_model._logistic.LogisticRegression`` by importing only the public
    module ``sklearn.linear_model``, which that walk imports too; a name no public module
    of its own path settles is looked up in skops' full list.

    Example:
        >>> is_default_estimator("sklearn.linear_model._logistic.LogisticRegression")
        True
        >>> is_default_estimator("sklearn.utils.validation.check_array")
        False
    """
    if not name.startswith("sklearn."):
        return False  # skops lists only names starting so
    skops_io()  # its lists exist once it is imported
    if _exposed_estimator(name):
        return True
    listed: Sequence[str] = sys.modules[_TRUSTED_TYPES].SKLEARN_ESTIMATOR_TYPE_NAMES
    return name in listed


def _exposed_estimator(name: str) -> bool:
    """Whether the public module of ``name``'s path exposes it as ``all_estimators`` would."""
    module_name, _, class_name = name.rpartition(".")
    public: list[str] = []
    for part in module_name.split("."):
        if part.startswith("_"):
            break
        public.append(part)
    from sklearn.base import BaseEstimator
    from sklearn.utils import discovery
    from skops.io._utils import get_type_name

    ignored = getattr(discovery, "_MODULE_TO_IGNORE", None)
    if len(public) < 2 or not isinstance(ignored, set) or ignored.intersection(public):
        return False
    try:
        module = importlib.import_module(".".join(public))
    except ImportError:
        return False
    if class_name.startswith("_") or class_name not in dir(module):
        return False
    found = getattr(module, class_name, None)
    return (
        isinstance(found, type)
        and get_type_name(found) == name
        and issubclass(found, BaseEstimator)
        and class_name != "BaseEstimator"
        and not getattr(found, "__abstractmethods__", None)
    )


def _walked_estimator_names() -> list[str]:
    """skops' list of default-trusted estimators, made as skops makes it: the walk."""
    from sklearn.utils import all_estimators
    from skops.io._utils import get_type_name

    names = (get_type_name(cls) for _, cls in all_estimators())
    return [name for name in names if name.startswith("sklearn.")]


class _DeferredNames(list[str]):
    """One of skops' lists of default-trusted names, made on first use.

    skops reads its lists by iterating, testing membership and concatenating; each goes
    through :meth:`_names`. Thread-safe: the list is made once, under a lock. A list made
    ``exact_empty`` (the estimators) is empty inside :func:`exact_names`.
    """

    def __init__(self, make: Callable[[], list[str]], *, exact_empty: bool) -> None:
        super().__init__()
        self._make = make
        self._exact_empty = exact_empty
        self._made = False
        self._lock = threading.Lock()

    def _names(self) -> list[str]:
        if self._exact_empty and _EXACT.get():
            return []
        with self._lock:
            if not self._made:
                super().extend(self._make())
                self._made = True
        return list(super().__iter__())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, item: object) -> bool:
        return item in self._names()

    @overload
    def __getitem__(self, index: SupportsIndex) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: SupportsIndex | slice) -> str | list[str]:
        return self._names()[index]

    def __add__(self, other: Iterable[str]) -> list[str]:  # type: ignore[override]
        return [*self._names(), *other]

    def __radd__(self, other: Iterable[str]) -> list[str]:
        return [*other, *self._names()]

    def __eq__(self, other: object) -> bool:
        return self._names() == other

    __hash__ = None

    def __repr__(self) -> str:
        return repr(self._names())


class _WalkDeferred(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Loads ``skops.io._trusted_types`` from skops' own file with its searches deferred.

    The module runs unchanged except for two names it imports. Its ``all_estimators``
    finds nothing, and the empty estimator list it makes is then replaced by a
    :class:`_DeferredNames` that walks on first use. Its ``get_public_type_names`` returns
    a :class:`_DeferredNames` each: the numpy and scipy ufunc lists, which look every
    ufunc up in every imported module (a second or more in a server's process), are made
    when a file first names a function. If skops no longer makes its lists that way, they
    are made as skops makes them.
    """

    def __init__(self) -> None:
        self._inner: importlib.abc.Loader | None = None
        self._deferred = False

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _TRUSTED_TYPES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        self._inner = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        assert self._inner is not None  # set by find_spec, which built this module's spec
        namespace = vars(module)
        namespace["__builtins__"] = {**vars(builtins), "__import__": self._import}
        try:
            self._inner.exec_module(module)
        finally:
            namespace["__builtins__"] = builtins
            module.__loader__ = self._inner
        listed = namespace.get("SKLEARN_ESTIMATOR_TYPE_NAMES")
        if self._deferred and isinstance(listed, list) and not listed:
            namespace["SKLEARN_ESTIMATOR_TYPE_NAMES"] = _DeferredNames(
                _walked_estimator_names, exact_empty=True
            )

    def _import(
        self,
        name: str,
        globals: dict[str, Any] | None = None,
        locals: dict[str, Any] | None = None,
        fromlist: Sequence[str] = (),
        level: int = 0,
    ) -> Any:
        if name == "sklearn.utils" and level == 0 and tuple(fromlist) == ("all_estimators",):
            self._deferred = True
            return types.SimpleNamespace(all_estimators=_no_estimators)
        found = builtins.__import__(name, globals, locals, fromlist, level)
        if name == "_utils" and level == 1 and "get_public_type_names" in fromlist:
            names = {item: getattr(found, item) for item in fromlist}
            names["get_public_type_names"] = _deferring(found.get_public_type_names)
            return types.SimpleNamespace(**names)
        return found


def _deferring(search: Callable[..., list[str]]) -> Callable[..., _DeferredNames]:
    """``search(module=..., oftype=...)`` made on first use of its result, as skops makes it."""

    def deferred(module: types.ModuleType, oftype: type) -> _DeferredNames:
        def make() -> list[str]:
            with warnings.catch_warnings():
                # As skops does: scipy reports its ufuncs under the deprecated numpy.core.
                warnings.simplefilter("ignore", category=DeprecationWarning)
                return list(search(module=module, oftype=oftype))

        return _DeferredNames(make, exact_empty=False)

    return deferred


def _no_estimators() -> list[tuple[str, type]]:
    return []
