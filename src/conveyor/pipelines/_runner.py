"""Starting, resuming and finishing a pipeline run around the orchestrator."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import peak_rss_mb
from conveyor.data import DatasetVersion, parse_dataset_ref
from conveyor.errors import ConveyorError
from conveyor.pipelines._datasets import is_dataset_step
from conveyor.pipelines._errors import PipelineFailedError
from conveyor.pipelines._graph import Graph
from conveyor.pipelines._orchestrator import Orchestrator, RunPlan
from conveyor.pipelines._results import PipelineRun
from conveyor.pipelines.executors import Executor, resolve_executor
from conveyor.pipelines.executors._execute import VALUE_DIR
from conveyor.pipelines.materializers import materializer_versions
from conveyor.tracking import Heartbeat, Run
from conveyor.workspace import Workspace

if TYPE_CHECKING:
    from conveyor.core._progress import ProgressHook
    from conveyor.pipelines._pipeline import Pipeline
    from conveyor.tracking import RunTracker


def run_pipeline(
    pipeline: Pipeline,
    workspace: Workspace | str | Path | None,
    *,
    params: Mapping[str, Any] | None,
    executor: str | Executor,
    cache: bool,
    max_workers: int | None,
    resume: str | None,
    ray_address: str | None,
    dataset_pins: Mapping[str, int] | None,
    progress: ProgressHook | None = None,
) -> PipelineRun:
    """Build, execute and record ``pipeline``; see :meth:`Pipeline.run`."""
    ws, owned = _workspace(workspace, pipeline)
    try:
        return _run(
            ws,
            pipeline,
            params=params,
            executor=resolve_executor(executor, max_workers=max_workers, ray_address=ray_address),
            cache=cache,
            resume=resume,
            dataset_pins=dict(dataset_pins or {}),
            progress=progress,
        )
    finally:
        if owned:
            ws.close()


def _workspace(
    workspace: Workspace | str | Path | None, pipeline: Pipeline
) -> tuple[Workspace, bool]:
    if isinstance(workspace, Workspace):
        return workspace, False
    if workspace is None:
        folder = pipeline.source_file.parent if pipeline.source_file else Path(".")
        return Workspace.open(folder), True
    return Workspace.open(workspace), True


def _run(
    ws: Workspace,
    pipeline: Pipeline,
    *,
    params: Mapping[str, Any] | None,
    executor: Executor,
    cache: bool,
    resume: str | None,
    dataset_pins: dict[str, int],
    progress: ProgressHook | None,
) -> PipelineRun:
    tracker = ws.runs
    previous = _resumable(tracker, resume, pipeline) if resume else None
    if previous is not None:
        params = {**previous.params, **(params or {})}
        pins = {d["name"]: d["version"] for d in tracker.datasets(previous.id)}
        dataset_pins = {**pins, **dataset_pins}
    bound = pipeline.bind(params)
    graph = pipeline.build(bound)
    versions = resolve_datasets(ws, graph, dataset_pins)
    if previous is None:
        run = tracker.start_run(
            pipeline.name,
            kind="pipeline",
            params=jsonable_params(bound),
            pipeline_ref=pipeline.ref,
            executor=executor.name,
        )
        reusable: dict[str, Run] = {}
    else:
        reusable = _finished_steps(tracker, previous.id)
        run = tracker.resume_run(previous.id)
    for version in {v.ref: v for v in versions.values()}.values():
        tracker.record_dataset(run.id, version.name, version.version, version.content_hash)
    roots = [ws.root] + ([pipeline.source_file.parent] if pipeline.source_file else [])
    plan = RunPlan(
        run=run,
        params=bound,
        cache=cache,
        roots=roots,
        materializers=materializer_versions(),
        datasets=versions,
        reusable=reusable,
        progress=progress,
    )
    orchestrator = Orchestrator(ws, graph, plan, executor)
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        with Heartbeat(tracker, run.id, interval_s=_heartbeat_interval(tracker)):
            executor.open(ws)
            try:
                steps = orchestrator.execute()
            finally:
                executor.close()
    except BaseException as exc:
        tracker.finish_run(
            run.id,
            "failed",
            error=f"interrupted: {type(exc).__name__}: {exc}",
            wall_s=time.perf_counter() - started,
            cpu_s=time.process_time() - cpu_started,
            peak_rss_mb=peak_rss_mb(),
        )
        raise
    failed = [name for name, s in steps.items() if s.status == "failed"]
    skipped = [name for name, s in steps.items() if s.status == "skipped"]
    status = "failed" if failed else "completed"
    error = _failure_summary(steps, failed) if failed else None
    tracker.finish_run(
        run.id,
        status,
        error=error,
        wall_s=time.perf_counter() - started,
        cpu_s=time.process_time() - cpu_started,
        peak_rss_mb=peak_rss_mb(),
    )
    result = PipelineRun(
        run_id=run.id,
        pipeline=pipeline.name,
        pipeline_ref=pipeline.ref,
        status=status,
        params=bound,
        executor=executor.name,
        steps=steps,
        datasets={v.name: v.version for v in versions.values()},
        artifacts=ws.artifacts,
        value_dir=ws.root / VALUE_DIR,
    )
    if failed:
        failure = PipelineFailedError(
            f"Pipeline {pipeline.name!r} failed in step(s) {', '.join(failed)} "
            f"(run {run.id[:8]}); {len(skipped)} dependent step(s) skipped. "
            f"{failed[0]}: {_last_line(steps[failed[0]].error)}",
            hint=f"See the traceback with `conveyor runs show {run.id[:8]}`; after fixing, "
            f"`conveyor run {pipeline.ref} --resume {run.id[:8]}` re-runs what did not finish.",
            run_id=run.id,
            failed=failed,
            skipped=skipped,
        )
        failure.result = result
        raise failure
    return result


def _heartbeat_interval(tracker: RunTracker) -> float:
    # Several beats per timeout, so one slow beat never gets a live run reaped.
    return max(0.05, min(5.0, tracker.heartbeat_timeout_s / 4))


def jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(dict(params), default=str)))


def _last_line(error: str | None) -> str:
    """The exception line at the end of a step's traceback (what went wrong, in one line)."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    line = lines[-1] if lines else "no error recorded"
    return line if len(line) <= 300 else line[:297] + "..."


def _failure_summary(steps: Mapping[str, Any], failed: list[str]) -> str:
    parts = [f"step {name!r} failed:\n{steps[name].error}" for name in failed]
    return "\n\n".join(parts)


def resolve_datasets(
    ws: Workspace, graph: Graph, pins: Mapping[str, int]
) -> dict[str, DatasetVersion]:
    """Resolve each ``load_dataset`` node's reference to an exact version, once, now."""
    resolved: dict[str, DatasetVersion] = {}
    for node in graph.nodes.values():
        if not is_dataset_step(node.step):
            continue
        ref = parse_dataset_ref(str(node.arguments["ref"]))
        version = pins.get(ref.name, ref.version)
        resolved[node.name] = ws.datasets.get(ref.name, version)
    return resolved


def _resumable(tracker: RunTracker, resume: str, pipeline: Pipeline) -> Run:
    tracker.reap_stale()
    previous = tracker.get(resume)
    if previous.kind != "pipeline":
        raise ConveyorError(
            f"Run {previous.short_id} is a {previous.kind} run, not a pipeline run.",
            hint="Pass the id of the pipeline run (see `conveyor runs list`).",
            run_id=previous.id,
        )
    if previous.pipeline_ref != pipeline.ref:
        raise ConveyorError(
            f"Run {previous.short_id} ran pipeline {previous.pipeline_ref!r}, not "
            f"{pipeline.ref!r}; it cannot be resumed with another pipeline.",
            hint=f"Run `conveyor run {previous.pipeline_ref} --resume {previous.short_id}`.",
            run_id=previous.id,
        )
    if previous.status not in ("failed",):
        raise ConveyorError(
            f"Run {previous.short_id} is {previous.status}; only failed runs can be resumed.",
            hint="A run still in progress is resumable once it failed or its process died "
            "(no heartbeat for runs.heartbeat_timeout_s seconds).",
            run_id=previous.id,
            status=previous.status,
        )
    return previous


def _finished_steps(tracker: RunTracker, run_id: str) -> dict[str, Run]:
    """Completed or cached step runs of ``run_id`` by name (newest wins)."""
    found: dict[str, Run] = {}
    for child in tracker.children(run_id):
        if child.kind == "step" and child.status in ("completed", "cached"):
            current = found.get(child.name)
            if current is None or child.started_at > current.started_at:
                found[child.name] = child
    return found
