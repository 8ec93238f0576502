"""Reading a recorded step output of a pipeline run back as a value (the holdout frame)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError
from conveyor.pipelines.materializers import load_value

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


def run_output(ws: Workspace, run_id: str, step: str, index: int = 0) -> Any:
    """Load output ``index`` of step ``step`` of pipeline run ``run_id`` (0 for a single one).

    A cached step run holds no outputs of its own; they are read from the run it reused.

    Raises:
        ConveyorError: The run has no such step or output.
    """
    steps = {child.name: child for child in ws.runs.children(run_id) if child.kind == "step"}
    child = steps.get(step)
    if child is None:
        raise ConveyorError(
            f"Run {run_id[:8]} has no step {step!r}. Steps: {', '.join(steps) or '-'}.",
            hint="Fix evaluation.holdout_step in conveyor.yaml.",
            run_id=run_id,
            step=step,
        )
    records = ws.runs.outputs(child.id)
    if not records and child.cached_from:
        records = ws.runs.outputs(child.cached_from)
    names = {r.name for r in records}
    # A step with one return value has a single output named "output" (index 0).
    name = "output" if index == 0 and "output" in names else f"output_{index}"
    record = next((r for r in records if r.name == name), None)
    if record is None:
        raise ConveyorError(
            f"Step {step!r} of run {run_id[:8]} has no output {name!r} "
            f"(outputs: {', '.join(r.name for r in records) or '-'}).",
            hint="Fix evaluation.holdout_output in conveyor.yaml (the output's index).",
            run_id=run_id,
            step=step,
        )
    return load_value(ws.artifacts, record.hash, record.materializer, record.meta)
