"""Running one step attempt: load inputs, call the body in its run context, save outputs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import peak_rss_mb
from conveyor.pipelines._datasets import dataset_value, is_dataset_step
from conveyor.pipelines._errors import StepOutputError
from conveyor.pipelines._graph import replace_handles
from conveyor.pipelines._handles import StepOutput
from conveyor.pipelines.executors._base import StepOutcome, StepTask
from conveyor.pipelines.materializers import load_value, save_value
from conveyor.tracking import OutputRecord, RunContext, run_context

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

#: Where values that stay files (``Path`` outputs) are materialized for steps to read.
VALUE_DIR = Path(".conveyor") / "cache" / "values"


def execute_task(
    ws: Workspace, task: StepTask, cpu_clock: Callable[[], float] = time.thread_time
) -> StepOutcome:
    """Run one attempt of ``task`` against ``ws`` and save its outputs.

    Metrics the body logged are flushed before returning or raising, so nothing logged is
    lost when the body fails and nothing is left buffered in a worker process. The
    outcome's ``peak_rss_mb`` is measured here, in the process that ran the body (the
    worker's own high-water mark when the executor ships tasks to other processes).

    Raises:
        Exception: Whatever the body raised; ``StepOutputError`` when its return value
            does not match the declared outputs; ``UnsupportedTypeError`` for an output
            no materializer handles.
    """
    step = task.step
    context = RunContext(
        tracker=ws.runs,
        run_id=task.run_id,
        step_name=task.node,
        pipeline_run_id=task.pipeline_run_id,
        params=task.params,
        workspace_root=task.workspace_root,
        progress=task.progress,
    )
    value_dir = ws.root / VALUE_DIR
    loaded: dict[str, Any] = {}

    def fetch(handle: StepOutput) -> Any:
        key = f"{handle.node}/{handle.output_name}"
        if key not in loaded:
            record = task.inputs[key]
            loaded[key] = load_value(
                ws.artifacts, record.hash, record.materializer, record.meta, workdir=value_dir
            )
        return loaded[key]

    try:
        wall0, cpu0 = time.perf_counter(), cpu_clock()
        with run_context(context):
            if is_dataset_step(step) and task.dataset_ref is not None:
                result = dataset_value(ws, ws.datasets.get(task.dataset_ref))
            else:
                arguments = {k: replace_handles(v, fetch) for k, v in task.arguments.items()}
                bound = step.signature.bind_partial()
                bound.arguments.update(arguments)
                result = step.fn(*bound.args, **bound.kwargs)
        wall, cpu = time.perf_counter() - wall0, cpu_clock() - cpu0
        values = _split(task.node, step.outputs, result)
        outputs = []
        for name, value in zip(step.output_names, values, strict=True):
            saved = save_value(ws.artifacts, value)
            outputs.append(
                OutputRecord(
                    name=name,
                    hash=saved.hash,
                    materializer=saved.materializer,
                    materializer_version=saved.materializer_version,
                    type_name=saved.type_name,
                    size=saved.size,
                    meta=saved.meta,
                )
            )
    finally:
        ws.runs.flush(task.run_id)
    return StepOutcome(outputs, wall, cpu, peak_rss_mb())


def _split(node: str, outputs: int | None, result: Any) -> list[Any]:
    if outputs is None:
        return [result]
    if not isinstance(result, tuple | list) or len(result) != outputs:
        got = (
            f"{type(result).__name__} of length {len(result)}"
            if isinstance(result, tuple | list)
            else type(result).__name__
        )
        raise StepOutputError(
            f"Step {node!r} declares {outputs} outputs but returned {got}.",
            hint=f"Return a tuple of {outputs} values, or fix outputs=/the return annotation.",
            step=node,
            expected=outputs,
        )
    return list(result)
