"""Which class implements which check name: built-ins, entry-point plug-ins and user classes.

Built-ins are declared as ``name -> "module:Class"`` and imported on first use, so listing
names never imports scikit-learn or pandera. The built-in data checks are exported by
``conveyor.checks.data`` and the model checks by ``conveyor.checks.model`` under the class
name ``<CamelCaseName>Check`` (``min_metric`` -> ``MinMetricCheck``); the integration checks
live in ``conveyor.ci``. Plug-ins register through the entry-point group
``conveyor.checks`` (each entry point loads a :class:`Check` subclass); users call
:func:`register_check`. Lookup order: user classes, then plug-ins, then built-ins.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from typing import Any, cast

from conveyor.checks._base import Check
from conveyor.core import PluginRegistry
from conveyor.errors import ConfigError, ConveyorError

ENTRY_POINT_GROUP = "conveyor.checks"

_DATA = "conveyor.checks.data"
_MODEL = "conveyor.checks.model"
_CI = "conveyor.ci"

BUILTINS: dict[str, str] = {
    # data checks (subject: a dataset version)
    "schema": f"{_DATA}:SchemaCheck",
    "anomalies": f"{_DATA}:AnomaliesCheck",
    "data_drift": f"{_DATA}:DataDriftCheck",
    "label_leakage": f"{_DATA}:LabelLeakageCheck",
    "duplicates": f"{_DATA}:DuplicatesCheck",
    "class_balance": f"{_DATA}:ClassBalanceCheck",
    "feature_importance": f"{_DATA}:FeatureImportanceCheck",
    # model checks (subject: the candidate model version, or its run)
    "loss_decreases": f"{_MODEL}:LossDecreasesCheck",
    "overfitting": f"{_MODEL}:OverfittingCheck",
    "min_metric": f"{_MODEL}:MinMetricCheck",
    "champion_comparison": f"{_MODEL}:ChampionComparisonCheck",
    "slices": f"{_MODEL}:SlicesCheck",
    "fairness": f"{_MODEL}:FairnessCheck",
    "robustness": f"{_MODEL}:RobustnessCheck",
    "invariance": f"{_MODEL}:InvarianceCheck",
    "calibration": f"{_MODEL}:CalibrationCheck",
    "latency": f"{_MODEL}:LatencyCheck",
    "artifact_size": f"{_MODEL}:ArtifactSizeCheck",
    "save_load_parity": f"{_MODEL}:SaveLoadParityCheck",
    "feature_skew": f"{_MODEL}:FeatureSkewCheck",
    # integration checks (layer 4, imported only when asked for)
    "pipeline_sample": f"{_CI}:PipelineSampleCheck",
    "signature_serving": f"{_CI}:SignatureServingCheck",
    "serving_roundtrip": f"{_CI}:ServingRoundtripCheck",
}


class CheckRegistryError(ConveyorError):
    """A check class or plug-in is malformed, or a declared check failed to import."""

    code = "check_registry_error"


class UnknownCheckError(ConfigError, KeyError):
    """No check is registered under a name; the message lists the valid names."""

    code = "unknown_check"

    def __str__(self) -> str:  # KeyError would quote the message
        return ConfigError.__str__(self)


def register_check(cls: type[Check]) -> type[Check]:
    """Add (or replace) a check under ``cls.name``; usable as a class decorator.

    Raises:
        CheckRegistryError: ``cls`` is not a :class:`Check` subclass with a ``name`` and a
            valid ``subject_kind``.

    Example:
        >>> from conveyor.checks import Check, register_check
        >>> @register_check
        ... class RowCount(Check):  # name, subject_kind, Params, run
        ...     ...  # doctest: +SKIP
    """
    return _REGISTRY.register(cls, origin="register_check")


def unregister_check(name: str) -> None:
    """Remove a user-registered check (built-ins and plug-ins stay)."""
    _REGISTRY.unregister(name)


def available_checks() -> list[str]:
    """Every check name a lookup may return, sorted (nothing is imported but plug-ins)."""
    return _REGISTRY.names()


def get_check(name: str) -> type[Check]:
    """The class registered as ``name`` (user, then plug-in, then built-in).

    Raises:
        UnknownCheckError: No such check; the message lists the valid names.
        CheckRegistryError: The built-in's module failed to import.
    """
    return _REGISTRY.get(name)


def load_entry_points(points: Iterable[EntryPoint]) -> dict[str, type[Check]]:
    """Load check classes from entry points, keyed by each class's ``name``.

    Raises:
        CheckRegistryError: An entry point failed to import or is not a :class:`Check`.
    """
    return _REGISTRY.load_entry_points(points)


def reset_plugins() -> None:
    """Forget the loaded plug-ins so the next lookup reads the entry points again."""
    _REGISTRY.reset_plugins()


def _validate_class(cls: Any, origin: str) -> type[Check]:
    ok = (
        isinstance(cls, type)
        and issubclass(cls, Check)
        and isinstance(getattr(cls, "name", None), str)
        and getattr(cls, "subject_kind", None) in ("dataset", "run", "model")
    )
    if not ok:
        raise CheckRegistryError(
            f"{cls!r} (from {origin}) is not a Check subclass with a `name` and a "
            "`subject_kind` of 'dataset', 'run' or 'model'.",
            hint="Subclass conveyor.checks.Check and set `name` and `subject_kind`.",
            origin=origin,
        )
    return cast("type[Check]", cls)


def _not_found(name: str, known: list[str]) -> UnknownCheckError:
    closest = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    guess = f" (did you mean {closest[0]!r}?)" if closest else ""
    return UnknownCheckError(
        f"No check named {name!r} is registered{guess}.",
        hint=f"Valid checks: {', '.join(known)}. A plug-in check's package "
        f"must be installed (entry-point group {ENTRY_POINT_GROUP!r}).",
        check=name,
        valid=known,
    )


def _plugin_error(point: EntryPoint, exc: Exception) -> CheckRegistryError:
    return CheckRegistryError(
        f"The check plug-in {point.name!r} ({point.value}) failed to load: {exc}.",
        hint=f"Fix or uninstall the package declaring it in {ENTRY_POINT_GROUP!r}.",
        check=point.name,
    )


def _builtin_error(name: str, target: str, exc: Exception) -> CheckRegistryError:
    return CheckRegistryError(
        f"The built-in check {name!r} could not be loaded from {target}: {exc}.",
        hint="Reinstall conveyor-ml with its dependencies (pip install conveyor-ml); "
        "if the error names a missing package, install it. Other checks still work.",
        check=name,
        target=target,
    )


_REGISTRY: PluginRegistry[Check] = PluginRegistry(
    "check",
    Check,
    ENTRY_POINT_GROUP,
    BUILTINS,
    validate=_validate_class,
    not_found=_not_found,
    plugin_error=_plugin_error,
    builtin_error=_builtin_error,
)
