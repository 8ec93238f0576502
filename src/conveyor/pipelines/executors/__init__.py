"""Executors: where step bodies run (threads in this process, or Ray tasks).

One abstract base (:class:`Executor`) with a ``submit`` primitive; the orchestration
(caching, retries, failure isolation, recording) is written once above it in the runner.
:func:`resolve_executor` turns ``"local"``, ``"ray"`` or an instance into an executor.
"""

from __future__ import annotations

from conveyor.pipelines.executors._base import Executor, StepOutcome, StepTask, resolve_executor
from conveyor.pipelines.executors._local import LocalExecutor
from conveyor.pipelines.executors._ray import RayExecutor

__all__ = [
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "StepOutcome",
    "StepTask",
    "resolve_executor",
]
