"""Executors by name: built-ins, plug-ins from entry points, and classes users register.

The same :class:`~conveyor.core.PluginRegistry` every other extension point uses: a
pipeline run names its executor (``--executor ray``, ``run_pipeline(executor="ray")``),
and the name is looked up here. Third parties declare theirs in the
``conveyor.executors`` entry-point group.
"""

from __future__ import annotations

from typing import Any

from conveyor.core import PluginRegistry
from conveyor.pipelines._errors import UnknownExecutorError
from conveyor.pipelines.executors._base import Executor

#: Entry-point group executors from other packages declare themselves in.
ENTRY_POINT_GROUP = "conveyor.executors"

#: The built-in executors, imported only when asked for.
BUILTINS = {
    "local": "conveyor.pipelines.executors._local:LocalExecutor",
    "ray": "conveyor.pipelines.executors._ray:RayExecutor",
}


def register_executor(cls: type[Executor]) -> type[Executor]:
    """Make ``cls`` available under ``cls.name`` (usable as a class decorator).

    A registered class wins over a plug-in or built-in of the same name.

    Raises:
        UnknownExecutorError: ``cls`` is not an :class:`Executor` subclass with a name.
    """
    return _REGISTRY.register(cls, origin="register_executor")


def unregister_executor(name: str) -> None:
    """Forget a class registered with :func:`register_executor` (built-ins stay)."""
    _REGISTRY.unregister(name)


def available_executors() -> list[str]:
    """Names of every executor: built-in, plug-in and registered, sorted."""
    return _REGISTRY.names()


def get_executor(name: str) -> type[Executor]:
    """The executor class registered under ``name``.

    Raises:
        UnknownExecutorError: no executor has that name (the message lists those that do).
    """
    return _REGISTRY.get(name)


def _validate(obj: Any, origin: str) -> type[Executor]:
    if isinstance(obj, type) and issubclass(obj, Executor) and obj.name != Executor.name:
        return obj
    raise UnknownExecutorError(
        f"{origin} gave {obj!r}, which is not an Executor subclass with its own `name`.",
        hint="Subclass conveyor.pipelines.executors.Executor and set `name = '...'`.",
        origin=origin,
    )


def _not_found(name: str, known: list[str]) -> UnknownExecutorError:
    return UnknownExecutorError(
        f"Unknown executor {name!r}. Executors: {', '.join(known)}.",
        hint="Pass --executor local (default) or --executor ray, or register your own "
        "with conveyor.pipelines.executors.register_executor.",
        executor=name,
    )


_REGISTRY: PluginRegistry[Executor] = PluginRegistry(
    "executor",
    Executor,
    ENTRY_POINT_GROUP,
    BUILTINS,
    validate=_validate,
    not_found=_not_found,
    plugin_origin="entry point {name!r}",
)
