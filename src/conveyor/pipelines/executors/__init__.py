"""Executors: where step bodies run (threads in this process, or Ray tasks).

One abstract base (:class:`Executor`) with a ``submit`` primitive; the orchestration
(caching, retries, failure isolation, recording) is written once above it in the runner.
Executors are looked up by name in a plug-in registry like every other extension point
(built-ins ``local`` and ``ray``, the ``conveyor.executors`` entry-point group, and
:func:`register_executor`); :func:`resolve_executor` turns a name or an instance into one.
"""

from __future__ import annotations

from conveyor.pipelines.executors._base import Executor, StepOutcome, StepTask, resolve_executor
from conveyor.pipelines.executors._local import LocalExecutor
from conveyor.pipelines.executors._plugins import (
    ENTRY_POINT_GROUP,
    available_executors,
    get_executor,
    register_executor,
    unregister_executor,
)
from conveyor.pipelines.executors._ray import RayExecutor

__all__ = [
    "ENTRY_POINT_GROUP",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "StepOutcome",
    "StepTask",
    "available_executors",
    "get_executor",
    "register_executor",
    "resolve_executor",
    "unregister_executor",
]
