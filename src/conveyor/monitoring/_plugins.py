"""Which class implements which drift test, and which test a feature gets by default.

Built-ins are declared as ``name -> "module:Class"`` and imported on first use. Plug-ins
register through the entry-point group ``conveyor.drift_tests`` (each entry point loads a
:class:`DriftTest` subclass); users call :func:`register_drift_test`. Lookup order: user
classes, then plug-ins, then built-ins.

Default choice by type and sample size (per feature, overridable in ``monitoring.features``):
a window of at most :data:`SMALL_SAMPLE` values gets a hypothesis test (``ks`` for numbers,
``chi_square`` for categories) judged by its p-value; a larger one gets a distance
(``wasserstein`` in reference standard deviations, ``jensen_shannon``) judged by a fixed
threshold, since with hundreds of thousands of rows every p-value is tiny for shifts too
small to matter.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any, cast

from conveyor.core import PluginRegistry
from conveyor.monitoring._base import DriftTest, Kind
from conveyor.monitoring._errors import DriftTestError

ENTRY_POINT_GROUP = "conveyor.drift_tests"
#: Windows up to this many values use p-value tests, larger ones distances.
SMALL_SAMPLE = 1000

_MODULE = "conveyor.monitoring._builtins"
BUILTINS: dict[str, str] = {
    "ks": f"{_MODULE}:KolmogorovSmirnovTest",
    "wasserstein": f"{_MODULE}:WassersteinTest",
    "chi_square": f"{_MODULE}:ChiSquareTest",
    "jensen_shannon": f"{_MODULE}:JensenShannonTest",
    "psi": f"{_MODULE}:PopulationStabilityTest",
}


def register_drift_test(cls: type[DriftTest]) -> type[DriftTest]:
    """Add (or replace) a drift test under ``cls.name``; usable as a class decorator.

    Raises:
        DriftTestError: ``cls`` is not a :class:`DriftTest` subclass with a name and kinds.
    """
    return _REGISTRY.register(cls, origin="register_drift_test")


def unregister_drift_test(name: str) -> None:
    """Remove a user-registered drift test (built-ins and plug-ins stay)."""
    _REGISTRY.unregister(name)


def available_drift_tests() -> list[str]:
    """Every drift test name, sorted."""
    return _REGISTRY.names()


def get_drift_test(name: str) -> DriftTest:
    """An instance of the drift test registered as ``name``.

    Raises:
        DriftTestError: no such test (the message lists the valid names), or its class
            failed to load.
    """
    return _REGISTRY.get(name)()


def default_test(kind: Kind, size: int) -> str:
    """The test a feature of ``kind`` gets for a window of ``size`` values."""
    small = size <= SMALL_SAMPLE
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    return "chi_square" if small else "jensen_shannon"


def reset_plugins() -> None:
    """Forget loaded plug-ins so the next lookup reads the entry points again."""
    _REGISTRY.reset_plugins()


def _validate(cls: Any, origin: str) -> type[DriftTest]:
    ok = (
        isinstance(cls, type)
        and issubclass(cls, DriftTest)
        and isinstance(getattr(cls, "name", None), str)
        and bool(getattr(cls, "kinds", None))
        and getattr(cls, "statistic", None) in ("p_value", "distance")
    )
    if not ok:
        raise DriftTestError(
            f"{cls!r} (from {origin}) is not a DriftTest subclass with `name`, `kinds` and "
            "`statistic`.",
            hint="Subclass conveyor.monitoring.DriftTest and set name, kinds, statistic and "
            "default_threshold.",
            origin=origin,
        )
    return cast("type[DriftTest]", cls)


def _not_found(name: str, known: list[str]) -> DriftTestError:
    return DriftTestError(
        f"No drift test named {name!r} is registered.",
        hint=f"Valid drift tests: {', '.join(known)}. A plug-in's "
        f"package must be installed (entry-point group {ENTRY_POINT_GROUP!r}).",
        test=name,
    )


def _plugin_error(point: EntryPoint, exc: Exception) -> DriftTestError:
    return DriftTestError(
        f"The drift-test plug-in {point.name!r} ({point.value}) failed to load: {exc}.",
        hint=f"Fix or uninstall the package declaring it in {ENTRY_POINT_GROUP!r}.",
        test=point.name,
    )


_REGISTRY: PluginRegistry[DriftTest] = PluginRegistry(
    "drift test",
    DriftTest,
    ENTRY_POINT_GROUP,
    BUILTINS,
    validate=_validate,
    not_found=_not_found,
    plugin_error=_plugin_error,
    plugin_origin="entry point {name!r}",
)
