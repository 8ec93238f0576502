"""A minimal progress-reporting protocol, so library code never draws progress bars itself.

Library functions that take long accept an optional :data:`ProgressCallback` (units of
work: bytes, files) or :data:`ProgressHook` (state changes of named parts: pipeline steps,
tuning trials); the CLI passes one that drives rich progress or prints plain lines, tests
may pass a list's ``append``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``callback(description, completed, total)``: units are the caller's (bytes or files);
#: ``total`` is 0 when unknown. Called from the working thread; must be cheap.
ProgressCallback = Callable[[str, int, int], None]

#: What a :class:`ProgressEvent` may say about its part.
PROGRESS_STATES = frozenset(
    {"running", "done", "cached", "resumed", "failed", "skipped", "retrying", "pruned"}
)


@dataclass(frozen=True)
class ProgressEvent:
    """One change of state of one named part of long work.

    Attributes:
        kind: What the part is: ``"step"`` (a pipeline step) or ``"trial"`` (a tuning
            trial).
        name: The step's name, or the trial's ``"<study>/trial-<n>"``.
        state: One of :data:`PROGRESS_STATES`: ``running``, then ``done``, ``cached``
            (outputs reused), ``resumed`` (finished in an earlier attempt of the run),
            ``failed``, ``skipped`` (an upstream step failed), ``retrying`` or ``pruned``.
        elapsed_s: Wall-clock seconds the part took, once it ended.
        detail: Kind-specific facts, JSON-able. Trials: ``number``, ``value``, ``best``
            (best objective value so far), ``direction``, ``n_trials`` (``None`` when
            bounded by time only) and ``step`` (the pipeline step running the study).
    """

    kind: str
    name: str
    state: str
    elapsed_s: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """One plain line for logs and non-terminal output, e.g. ``step train done 1.20 s``."""
        parts = [self.kind, self.name, self.state]
        if self.elapsed_s is not None:
            parts.append(f"{self.elapsed_s:.2f} s")
        if self.kind == "trial":
            value, best = self.detail.get("value"), self.detail.get("best")
            if value is not None:
                parts.append(f"value {value:.6g}")
            if best is not None:
                parts.append(f"best {best:.6g}")
        return " ".join(parts)


#: ``hook(event)``: called from the thread doing the work (a pipeline's steps report from
#: the thread running the pipeline, trials from the thread running the trial), so it must
#: be cheap and thread-safe. An exception it raises propagates into the work.
ProgressHook = Callable[[ProgressEvent], None]


def no_progress(description: str, completed: int, total: int) -> None:
    """A :data:`ProgressCallback` that does nothing."""
