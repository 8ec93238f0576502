"""Reproducing a recorded run: same pipeline, parameters and exact dataset versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError
from conveyor.pipelines._loader import load_pipeline
from conveyor.pipelines._results import PipelineRun
from conveyor.tracking import capture_code_version

if TYPE_CHECKING:
    from conveyor.core._progress import ProgressHook
    from conveyor.pipelines.executors import Executor
    from conveyor.tracking import RunTracker
    from conveyor.workspace import Workspace


@dataclass(frozen=True)
class Reproduction:
    """The outcome of :func:`reproduce`.

    Attributes:
        original_id: The reproduced run.
        run: The new run.
        code_changed: The code version (commit, dirty flag or diff) differs.
        original_code: The original run's code version.
        current_code: The code version now.
        metrics: ``{"step.key": (original, reproduced)}`` (``None`` when missing on a side).
    """

    original_id: str
    run: PipelineRun
    code_changed: bool
    original_code: dict[str, Any] | None
    current_code: dict[str, Any] | None
    metrics: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "original_id": self.original_id,
            "run": self.run.to_dict(),
            "code_changed": self.code_changed,
            "original_code": self.original_code,
            "current_code": self.current_code,
            "metrics": {k: {"original": a, "reproduced": b} for k, (a, b) in self.metrics.items()},
        }


def reproduce(
    ws: Workspace,
    run_id: str,
    *,
    executor: str | Executor = "local",
    cache: bool = False,
    progress: ProgressHook | None = None,
) -> Reproduction:
    """Re-run a recorded pipeline run with its pipeline, parameters and dataset versions.

    Args:
        ws: The workspace holding the run.
        run_id: The pipeline run (or a unique prefix of 6+ characters).
        executor: Where to run.
        cache: Allow cache hits (default off: reproduce by executing again).
        progress: Told as each step starts and ends (see :meth:`Pipeline.run`).

    Raises:
        ConveyorError: The run is not a pipeline run or has no pipeline reference.
        PipelineFailedError: The reproduction failed.
    """
    original = ws.runs.get(run_id)
    if original.kind != "pipeline" or not original.pipeline_ref:
        raise ConveyorError(
            f"Run {original.short_id} is a {original.kind} run without a pipeline reference; "
            "only pipeline runs can be reproduced.",
            hint="Pass a pipeline run id from `conveyor runs list`.",
            run_id=original.id,
        )
    pipeline = load_pipeline(original.pipeline_ref, ws.root)
    pins = {d["name"]: d["version"] for d in ws.runs.datasets(original.id)}
    current_code = capture_code_version(ws.root)
    result = pipeline.run(
        ws,
        params=original.params,
        executor=executor,
        cache=cache,
        dataset_pins=pins,
        progress=progress,
    )
    before = run_metrics(ws.runs, original.id)
    after = run_metrics(ws.runs, result.run_id)
    metrics = {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after))}
    return Reproduction(
        original_id=original.id,
        run=result,
        code_changed=_code_key(original.code_version) != _code_key(current_code),
        original_code=original.code_version,
        current_code=current_code,
        metrics=metrics,
    )


def run_metrics(tracker: RunTracker, run_id: str) -> dict[str, float]:
    """Latest metrics of a pipeline run and its steps, as ``{"step.key": value}``.

    A cached step's metrics are those of the step run it reused.
    """
    found = {f"pipeline.{k}": v for k, v in tracker.latest_metrics(run_id).items()}
    for child in tracker.children(run_id):
        if child.kind != "step":
            continue
        source = child.cached_from or child.id
        for key, value in tracker.latest_metrics(source).items():
            found[f"{child.name}.{key}"] = value
    return found


def _code_key(code: dict[str, Any] | None) -> Any:
    if code is None:
        return None
    return (code.get("commit"), code.get("dirty"), code.get("diff_hash"))
