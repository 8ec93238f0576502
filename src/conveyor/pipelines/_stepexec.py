"""Running one node of a pipeline in its own process (``conveyor step-exec``).

The KFP and Airflow exports run each step this way.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.pipelines._errors import PipelineDefinitionError, PipelineFailedError
from conveyor.pipelines._orchestrator import Orchestrator, RunPlan
from conveyor.pipelines._results import StepResult
from conveyor.pipelines._runner import jsonable_params, resolve_datasets
from conveyor.pipelines.executors import LocalExecutor
from conveyor.pipelines.materializers import materializer_versions
from conveyor.tracking import Heartbeat, Run

if TYPE_CHECKING:
    from conveyor.pipelines._pipeline import Pipeline
    from conveyor.workspace import Workspace

_TAG = "external_run"


def execute_node(
    ws: Workspace,
    pipeline: Pipeline,
    node_name: str,
    external_id: str,
    params: Mapping[str, Any] | None = None,
    *,
    retries: bool = True,
) -> StepResult:
    """Run node ``node_name`` of the pipeline run identified by ``external_id``.

    The pipeline run (tagged ``external_run=<external_id>``) is created by the first node
    that runs; upstream outputs are read from its finished step runs; the node that
    finishes the last step completes the pipeline run.

    Args:
        retries: Retry a failed attempt as the step's ``retries`` says. False when the
            caller retries the whole task itself (an Airflow task's ``retries``), so a step
            that keeps failing runs ``retries + 1`` times, not that squared.

    Raises:
        PipelineDefinitionError: No such node, or an upstream node has not finished.
        PipelineFailedError: The step failed (the pipeline run is marked failed).
    """
    tracker = ws.runs
    bound = pipeline.bind(params)
    graph = pipeline.build(bound)
    node = graph.nodes.get(node_name)
    if node is None:
        raise PipelineDefinitionError(
            f"Pipeline {pipeline.name!r} has no step {node_name!r}. "
            f"Steps: {', '.join(graph.nodes)}.",
            hint="Use a node name from the exported YAML.",
            step=node_name,
        )
    if not retries and node.step.retries:
        once = copy.copy(node.step)
        once.retries = 0
        node = dataclasses.replace(node, step=once)
        graph.nodes[node_name] = node
    run = _pipeline_run(ws, pipeline, external_id, bound)
    finished = {
        c.name: c
        for c in tracker.children(run.id)
        if c.kind == "step" and c.status in ("completed", "cached")
    }
    versions = resolve_datasets(ws, graph, {})
    plan = RunPlan(
        run=run,
        params=bound,
        cache=True,
        roots=[ws.root] + ([pipeline.source_file.parent] if pipeline.source_file else []),
        materializers=materializer_versions(),
        datasets={k: v for k, v in versions.items() if k == node_name},
    )
    for version in plan.datasets.values():
        tracker.record_dataset(run.id, version.name, version.version, version.content_hash)
    executor = LocalExecutor(max_workers=1)
    orchestrator = Orchestrator(ws, graph, plan, executor)
    for dep in node.deps:
        upstream = finished.get(dep)
        if upstream is None:
            raise PipelineDefinitionError(
                f"Step {node_name!r} needs {dep!r}, which has not finished in run {run.short_id}.",
                hint="Run the steps in DAG order.",
                step=node_name,
                missing=dep,
            )
        orchestrator.seed(dep, upstream.id, upstream.status, tracker.outputs(upstream.id))
    with Heartbeat(tracker, run.id):
        executor.open(ws)
        try:
            result = orchestrator.execute([node_name])[node_name]
        finally:
            executor.close()
    if result.status == "failed":
        tracker.finish_run(run.id, "failed", error=result.error)
        raise PipelineFailedError(
            f"Step {node_name!r} of pipeline {pipeline.name!r} failed (run {run.short_id}).",
            hint=f"See `conveyor runs show {run.short_id}`.",
            run_id=run.id,
            failed=[node_name],
        )
    finished[node_name] = tracker.get(result.run_id or run.id)
    if all(name in finished for name in graph.nodes):
        tracker.finish_run(run.id, "completed")
    return result


def _pipeline_run(ws: Workspace, pipeline: Pipeline, external_id: str, bound: Any) -> Run:
    for run in ws.runs.list(kind="pipeline", pipeline_ref=pipeline.ref, limit=200):
        if run.tags.get(_TAG) == external_id:
            return run
    return ws.runs.start_run(
        pipeline.name,
        kind="pipeline",
        params=jsonable_params(bound),
        pipeline_ref=pipeline.ref,
        executor="kfp",
        tags={_TAG: external_id},
    )
