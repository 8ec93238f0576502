"""The run a piece of code executes in, and the logging functions that use it.

The current run is a :class:`contextvars.ContextVar`, so each thread (and each asyncio
task) has its own: steps running concurrently in threads log to their own runs.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.artifacts import ObjectInfo
    from conveyor.core._progress import ProgressHook
    from conveyor.tracking._tracker import RunTracker

_CURRENT: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "conveyor_run", default=None
)


@dataclass(frozen=True)
class RunContext:
    """Where logging calls made by running code go.

    Attributes:
        tracker: The tracker recording the run.
        run_id: The run metrics and params are logged to (a step run inside a pipeline).
        step_name: The step being executed, if any.
        pipeline_run_id: The enclosing pipeline run, if any.
        params: The parameters the code was called with.
        workspace_root: The project root.
        progress: Where code in the run reports progress (``conveyor.tune`` reports its
            trials to it), if anyone listens.
    """

    tracker: RunTracker
    run_id: str
    step_name: str | None = None
    pipeline_run_id: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    workspace_root: Path = field(default_factory=Path.cwd)
    progress: ProgressHook | None = field(default=None, compare=False)


@contextmanager
def run_context(ctx: RunContext) -> Iterator[RunContext]:
    """Make ``ctx`` the current run for the body (nesting restores the outer one).

    Buffered metrics are not flushed on exit: whoever finishes the run does that
    (:meth:`RunTracker.finish_run`), also when the body raised.
    """
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def current() -> RunContext | None:
    """The run the calling code executes in, or ``None`` outside any run."""
    return _CURRENT.get()


def _require(function: str) -> RunContext:
    ctx = _CURRENT.get()
    if ctx is None:
        raise ConveyorError(
            f"{function} called outside a run.",
            hint="Call it inside a step of a pipeline (or a tuning objective), or log to a "
            "run explicitly with ws.runs.log_metric(run_id, ...).",
            function=function,
        )
    return ctx


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log one metric value to the current run (buffered; see :class:`RunTracker`).

    Raises:
        ConveyorError: called outside a run, or the value is not a real number.
    """
    ctx = _require("log_metric")
    ctx.tracker.log_metric(ctx.run_id, key, value, step)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    """Log several metric values at one step to the current run."""
    ctx = _require("log_metrics")
    ctx.tracker.log_metrics(ctx.run_id, values, step)


def log_params(params: Mapping[str, Any]) -> None:
    """Merge JSON-able parameters into the current run's parameters."""
    ctx = _require("log_params")
    ctx.tracker.log_params(ctx.run_id, params)


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> ObjectInfo:
    """Store a file and record it on the current run; return the stored object's info."""
    ctx = _require("log_artifact")
    return ctx.tracker.log_artifact(ctx.run_id, path, name)
