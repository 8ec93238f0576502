"""Which flavor saves which model: built-ins, entry-point plug-ins and user classes.

Built-ins are declared as ``name -> "module:Class"`` and imported on first use. Plug-ins
register through the entry-point group ``conveyor.flavors``; users call
:func:`register_flavor`. User flavors are tried first, then plug-ins, then built-ins in
the order below; pickle is never picked unless the caller says the model is trusted.
"""

from __future__ import annotations

import threading
from importlib.metadata import EntryPoint
from typing import Any

from conveyor.core import PluginRegistry
from conveyor.registry.flavors._base import Flavor
from conveyor.registry.flavors._errors import (
    FlavorError,
    FlavorNotFoundError,
    UnsupportedModelError,
    UntrustedModelError,
)

ENTRY_POINT_GROUP = "conveyor.flavors"
_PKG = "conveyor.registry.flavors"

# Specific before general: XGBoost and LightGBM wrappers are also scikit-learn estimators.
BUILTINS: dict[str, str] = {
    "pyfunc": f"{_PKG}._pyfunc:PyfuncFlavor",
    "xgboost": f"{_PKG}._boosting:XGBoostFlavor",
    "lightgbm": f"{_PKG}._boosting:LightGBMFlavor",
    "pytorch": f"{_PKG}._torch:PyTorchFlavor",
    "onnx": f"{_PKG}._onnx:OnnxFlavor",
    "sklearn": f"{_PKG}._sklearn:SklearnFlavor",
    "pickle": f"{_PKG}._pickle:PickleFlavor",
}
_FALLBACK = "pickle"

_lock = threading.RLock()
_instances: dict[type[Flavor], Flavor] = {}


def register_flavor(cls: type[Flavor]) -> type[Flavor]:
    """Add a flavor, tried before the built-ins (usable as a class decorator).

    Example:
        >>> from conveyor.registry.flavors import Flavor, register_flavor
        >>> @register_flavor
        ... class MyFlavor(Flavor):  # name, handles, save, load
        ...     ...  # doctest: +SKIP
    """
    return _REGISTRY.register(cls)


def unregister_flavor(name: str) -> None:
    """Remove a user-registered flavor (built-ins and plug-ins stay)."""
    _REGISTRY.unregister(name)


def flavor_names() -> list[str]:
    """Every flavor name a lookup can return."""
    return _REGISTRY.names()


def get_flavor(name: str) -> Flavor:
    """The flavor registered as ``name`` (user, then plug-in, then built-in)."""
    return _instance(_REGISTRY.get(name))


def flavor_for(model: Any, *, trusted: bool = False) -> Flavor:
    """The flavor that saves ``model`` safely; pickle only when ``trusted`` is true.

    Raises:
        UntrustedModelError: A flavor handles the model but part of it could not be
            loaded back safely, and ``trusted`` is false.
        UnsupportedModelError: No flavor handles the model and ``trusted`` is false.
    """
    candidates = [*_REGISTRY.user().values(), *_REGISTRY.plugins().values()]
    candidates += [_REGISTRY.builtin(name) for name in BUILTINS if name != _FALLBACK]
    for cls in candidates:
        if not cls.handles(model):
            continue
        flavor = _instance(cls)
        unsafe = flavor.unsafe_parts(model)
        if not unsafe:
            return flavor
        if trusted:
            return get_flavor(_FALLBACK)
        raise UntrustedModelError(
            f"The {flavor.name} flavor cannot store {type(model).__qualname__} safely: it "
            f"contains {', '.join(unsafe)}.",
            hint="Wrap the model in a pyfunc class (save/load/predict), or register it with "
            "trusted=True to store it as a pickle that only trusted loads may open.",
            flavor=flavor.name,
            types=unsafe,
        )
    if trusted and callable(getattr(model, "predict", None)):
        return get_flavor(_FALLBACK)
    raise UnsupportedModelError(
        f"No model flavor can store a {type(model).__module__}.{type(model).__qualname__}.",
        hint="Use a scikit-learn, XGBoost, LightGBM, ONNX or PyTorch model, or a pyfunc class "
        "with save(folder), load(folder) and predict(frame); trusted=True stores any object "
        "with predict() as a pickle.",
        type_name=type(model).__qualname__,
    )


def _instance(cls: type[Flavor]) -> Flavor:
    with _lock:
        if cls not in _instances:
            _instances[cls] = cls()
        return _instances[cls]


def _validate(cls: Any, origin: str) -> type[Flavor]:
    del origin  # the message names the class itself
    if not (isinstance(cls, type) and issubclass(cls, Flavor)) or not isinstance(
        getattr(cls, "name", None), str
    ):
        raise FlavorError(
            f"{cls!r} is not a Flavor subclass with a `name`.",
            hint="Subclass conveyor.registry.flavors.Flavor and set `name`.",
        )
    return cls


def _not_found(name: str, known: list[str]) -> FlavorNotFoundError:
    return FlavorNotFoundError(
        f"No model flavor named {name!r} is registered.",
        hint=f"Known flavors: {', '.join(known)}. A plug-in flavor's package must be "
        "installed where the model is loaded.",
        flavor=name,
    )


def _plugin_error(point: EntryPoint, exc: Exception) -> FlavorError:
    return FlavorError(
        f"The flavor plug-in {point.name!r} ({point.value}) failed to load: {exc}.",
        hint=f"Fix or uninstall the package declaring it in {ENTRY_POINT_GROUP!r}.",
        flavor=point.name,
    )


_REGISTRY: PluginRegistry[Flavor] = PluginRegistry(
    "flavor",
    Flavor,
    ENTRY_POINT_GROUP,
    BUILTINS,
    validate=_validate,
    not_found=_not_found,
    plugin_error=_plugin_error,
    skip_foreign_plugins=True,
)
