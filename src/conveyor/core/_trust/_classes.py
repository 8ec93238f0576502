"""Class paths read from a stored model, checked before anything is imported.

A boosting model names one of its library's classes: :func:`check_class_path` compares
the path with an exact list. A PyTorch state dict names the user's own ``nn.Module``
subclass, which no list can hold: :func:`check_model_class` also accepts a class the
caller trusts, or one the running project has already imported from its own code.
"Its own code" is decided without importing anything: the class's module is already in
``sys.modules`` under the recorded name, holds the class under the recorded qualified
name, and was loaded from a file outside the standard library and every installed-package
folder (``site-packages``, ``dist-packages``), or typed into ``__main__``. A module that
would run code when imported (a ``payload.py`` next to a model folder, ``antigravity``)
is never imported to find out.
"""

from __future__ import annotations

import site
import sys
import sysconfig
from collections.abc import Collection
from pathlib import Path
from typing import Any

from conveyor.core._trust._errors import UntrustedContentError

_INSTALLED_FOLDERS = frozenset({"site-packages", "dist-packages"})


def imported_class(module: str, qualname: str) -> type | None:
    """``module.qualname`` if ``module`` is already imported and defines that class.

    Never imports anything, and reads namespaces directly, so a module's lazy
    ``__getattr__`` does not run either.

    Example:
        >>> imported_class("collections", "OrderedDict").__name__
        'OrderedDict'
        >>> imported_class("antigravity", "Fly") is None  # not imported: not looked up
        True
    """
    found: Any = sys.modules.get(module)
    for part in qualname.split(".") if found is not None else ():
        found = vars(found).get(part) if hasattr(found, "__dict__") else None
    return found if isinstance(found, type) else None


def imported_subclass(value_type: type, module: str, *names: str) -> bool:
    """Whether ``value_type`` derives from one of ``module.<name>``, never importing ``module``.

    A value of a library's type can only exist once the library is imported, so an
    extension point asks this before choosing a library's backend for a value.

    Example:
        >>> from collections import OrderedDict
        >>> imported_subclass(OrderedDict, "collections", "OrderedDict", "Counter")
        True
    """
    bases = [imported_class(module, name) for name in names]
    return any(base is not None and issubclass(value_type, base) for base in bases)


def check_class_path(path: Any, allowed: Collection[str], *, what: str) -> str:
    """Return the allowed ``"module:Name"`` form of a class path, before any import.

    ``path`` may be dotted (``xgboost.sklearn.XGBClassifier``, as MLflow writes it) or
    colon form (``xgboost.sklearn:XGBClassifier``, as conveyor records it); it must
    match an entry of ``allowed`` exactly.

    Raises:
        UntrustedContentError: ``path`` is not a string or not in ``allowed``; nothing
            was imported.

    Example:
        >>> check_class_path("a.b.C", {"a.b:C"}, what="the model class")
        'a.b:C'
    """
    found = _listed(path, allowed)
    if found is not None:
        return found
    shown = _shown(path)
    raise UntrustedContentError(
        f"Refusing {what} {shown!r}: it is not one of the allowed classes "
        f"({', '.join(sorted(allowed))}); nothing was imported.",
        hint="Save the model again with its library's own API; a class path outside this "
        "list is never imported.",
        types=[shown],
    )


def check_model_class(
    path: Any,
    allowed: Collection[str],
    *,
    base: type,
    base_name: str,
    trusted: bool = False,
    what: str,
) -> str:
    """Return the ``"module:Name"`` class path a stored model may import, before any import.

    Allowed are, in this order: an entry of ``allowed`` exactly; any class path when
    ``trusted`` is true (the version or output was recorded trusted); a subclass of
    ``base`` from the project's own code that the running process has already imported
    (see the module docs). Nothing is imported to decide.

    Args:
        path: The class path read from the stored model (``"module:Qualified"``).
        allowed: Exact class paths trusted without ``trusted``.
        base: The class a model class must derive from (``torch.nn.Module``).
        base_name: Its public name, for messages (``"torch.nn.Module"``).
        trusted: The caller's word that the model's author is trusted.
        what: What ``path`` is, for messages (``"the recorded pytorch class"``).

    Raises:
        UntrustedContentError: None of the above holds; the message says why, names the
            class (``fields["types"]``) and how to trust it. Nothing was imported.

    Example:
        >>> check_model_class("x.y:Z", {"x.y:Z"}, base=dict, base_name="dict", what="it")
        'x.y:Z'
    """
    found = _listed(path, allowed)
    if found is not None:
        return found
    if trusted and isinstance(path, str):
        return path
    problem = _not_project_class(path, base, base_name)
    if problem is None:
        return str(path)
    shown = _shown(path)
    raise UntrustedContentError(
        f"Refusing {what} {shown!r}: {problem}; nothing was imported.",
        hint="Load it with trusted=True only if you trust the model's author (register the "
        "version with trusted=True, or pass trusted=True to load_value). A class from the "
        "project's own code loads once the running process has imported its module; "
        "classes of installed packages are trusted only by exact name.",
        types=[shown],
    )


def is_project_class(cls: type) -> bool:
    """Whether ``cls`` was defined in the project's own code (see the module docs)."""
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return cls.__module__ == "__main__" and module is not None
    where = Path(file).resolve()
    if _INSTALLED_FOLDERS.intersection(where.parts):
        return False
    return not any(where.is_relative_to(root) for root in _installed_roots())


def _not_project_class(path: Any, base: type, base_name: str) -> str | None:
    """Why ``path`` is not an imported project subclass of ``base``, or ``None``."""
    module, sep, qualname = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not sep or not module or not qualname:
        return "it is not a 'module:Class' path of the project's code"
    if module not in sys.modules:
        return (
            f"its module {module!r} is not imported by this process, and the class is not "
            "on the trusted list"
        )
    cls = imported_class(module, qualname)
    if cls is None:
        return f"module {module!r} defines no class {qualname!r}"
    if not issubclass(cls, base):
        return f"{path!r} is not a {base_name}"
    if not is_project_class(cls):
        where = getattr(sys.modules.get(cls.__module__), "__file__", None) or cls.__module__
        return (
            f"it is defined in an installed package or the standard library ({where}), not "
            "in the project's own code, and it is not on the trusted list"
        )
    return None


def _installed_roots() -> list[Path]:
    """The standard library and installed-package folders of this interpreter."""
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots.update(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        roots.add(site.getusersitepackages())
    return [Path(root).resolve() for root in roots]


def _listed(path: Any, allowed: Collection[str]) -> str | None:
    if isinstance(path, str):
        for entry in allowed:
            if path in (entry, entry.replace(":", ".")):
                return entry
    return None


def _shown(path: Any) -> str:
    return path if isinstance(path, str) else repr(path)
