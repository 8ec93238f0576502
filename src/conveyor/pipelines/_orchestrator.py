"""Executing a built DAG: caching, dispatch, retries, failure isolation and recording."""

from __future__ import annotations

import math
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core._progress import ProgressEvent
from conveyor.pipelines._cache import cache_key, fingerprint_arguments, source_closure
from conveyor.pipelines._datasets import is_dataset_step
from conveyor.pipelines._features import features_pin, is_features_step
from conveyor.pipelines._graph import Graph, Node, iter_handles
from conveyor.pipelines._handles import StepOutput
from conveyor.pipelines._results import StepResult
from conveyor.pipelines.executors import Executor, StepOutcome, StepTask

if TYPE_CHECKING:
    from conveyor.core._progress import ProgressHook
    from conveyor.data import DatasetVersion
    from conveyor.tracking import OutputRecord, Run
    from conveyor.workspace import Workspace

_DONE = ("completed", "cached")


@dataclass
class RunPlan:
    """What the orchestrator needs besides the graph.

    Attributes:
        run: The pipeline run (started or resumed).
        params: Bound pipeline parameters.
        cache: Whether cache hits may be used.
        roots: Folders whose code counts as project code for cache keys.
        materializers: ``{name: version}`` of the materializer registry.
        datasets: Resolved versions of ``load_dataset`` nodes.
        reusable: On resume, finished step runs of the earlier attempt by node name.
        progress: Told as each step starts and ends (see :meth:`Pipeline.run`).
    """

    run: Run
    params: dict[str, Any]
    cache: bool
    roots: list[Path]
    materializers: dict[str, int]
    datasets: dict[str, DatasetVersion] = field(default_factory=dict)
    reusable: dict[str, Run] = field(default_factory=dict)
    progress: ProgressHook | None = None


class Orchestrator:
    """Runs the nodes of ``graph`` on ``executor`` in dependency order, recording each."""

    def __init__(self, ws: Workspace, graph: Graph, plan: RunPlan, executor: Executor) -> None:
        self.ws = ws
        self.tracker = ws.runs
        self.graph = graph
        self.plan = plan
        self.executor = executor
        self.results: dict[str, StepResult] = {}
        self.records: dict[str, dict[str, OutputRecord]] = {}
        self._sources: dict[int, dict[str, str]] = {}
        self._running: dict[Future[StepOutcome], StepTask] = {}
        self._keys: dict[str, str] = {}

    # -- the loop ------------------------------------------------------------------------

    def seed(self, name: str, run_id: str, status: str, outputs: list[OutputRecord]) -> None:
        """Treat node ``name`` as already finished with ``outputs`` (used by ``step-exec``)."""
        self._record_success(name, run_id, status, outputs, reused=True)

    def execute(self, names: list[str] | None = None) -> dict[str, StepResult]:
        """Run every node (or only ``names``, whose inputs must be seeded); return results
        in execution order. A failing step does not raise: its result says ``failed``."""
        pending = [n.name for n in self.graph.order() if names is None or n.name in names]
        try:
            while pending or self._running:
                pending = self._dispatch(pending)
                if self._running:
                    done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
                    for future in done:
                        self._collect(future, self._running.pop(future))
        except BaseException:
            for task in self._running.values():
                self._finish_failed(task, "interrupted: the pipeline run was stopped")
            raise
        order = [n.name for n in self.graph.order()]
        return {name: self.results[name] for name in order if name in self.results}

    def _dispatch(self, pending: list[str]) -> list[str]:
        remaining: list[str] = []
        for name in pending:
            node = self.graph.nodes[name]
            states = [self.results.get(dep) for dep in node.deps]
            if any(s is not None and s.status not in _DONE for s in states):
                self._skip(node)
            elif any(s is None for s in states) or len(self._running) >= self.executor.capacity:
                remaining.append(name)
            else:
                self._start(node)
        return remaining

    # -- one node ------------------------------------------------------------------------

    def _key(self, node: Node) -> str:
        step = node.step
        if is_dataset_step(step):
            version = self.plan.datasets[node.name]
            sources: dict[str, str] = {}
            arguments: Any = {"content_hash": version.content_hash}
        else:
            sources = self._sources.get(id(step)) or self._sources.setdefault(
                id(step), source_closure(step.fn, self.plan.roots)
            )
            arguments = fingerprint_arguments(node.arguments, self._input_hash)
            if is_features_step(step):
                arguments = {"arguments": arguments, "pin": features_pin(self.ws, node.arguments)}
        return cache_key(
            step=step.name,
            sources=sources,
            arguments=arguments,
            materializers=self.plan.materializers,
            outputs=step.output_names,
        )

    def _input_hash(self, handle: StepOutput) -> str:
        return self.records[handle.node][handle.output_name].hash

    def _start(self, node: Node) -> None:
        key = self._key(node)
        self._keys[node.name] = key
        if self._reuse(node, key) or self._cached(node, key):
            return
        run = self.tracker.start_run(
            node.name,
            kind="step",
            parent_id=self.plan.run.id,
            params=_jsonable_literals(node),
            pipeline_ref=self.plan.run.pipeline_ref,
            executor=self.executor.name,
            cache_key=key,
        )
        self._report(node.name, "running")
        self._submit(node, run.id, attempt=1)

    def _submit(self, node: Node, run_id: str, attempt: int) -> None:
        inputs = {
            f"{h.node}/{h.output_name}": self.records[h.node][h.output_name]
            for value in node.arguments.values()
            for h in iter_handles(value)
        }
        version = self.plan.datasets.get(node.name)
        task = StepTask(
            node=node.name,
            step=node.step,
            arguments=node.arguments,
            inputs=inputs,
            run_id=run_id,
            pipeline_run_id=self.plan.run.id,
            params=self.plan.params,
            workspace_root=self.ws.root,
            attempt=attempt,
            dataset_ref=version.ref if version is not None else None,
            progress=self.plan.progress,
        )
        self._running[self.executor.submit(task)] = task

    def _reuse(self, node: Node, key: str) -> bool:
        previous = self.plan.reusable.get(node.name)
        if previous is None or previous.cache_key != key:
            return False
        outputs = self.tracker.outputs(previous.id)
        if not outputs or not all(self.ws.artifacts.exists(o.hash) for o in outputs):
            return False
        self._record_success(node.name, previous.id, previous.status, outputs, reused=True)
        self._report(node.name, "resumed")
        return True

    def _cached(self, node: Node, key: str) -> bool:
        if not (self.plan.cache and node.step.cache):
            return False
        found = self.tracker.find_cached_outputs(key)
        if found is None:
            return False
        original, outputs = found
        run = self.tracker.start_run(
            node.name,
            kind="step",
            parent_id=self.plan.run.id,
            params=_jsonable_literals(node),
            pipeline_ref=self.plan.run.pipeline_ref,
            executor=self.executor.name,
            cache_key=key,
            status="cached",
            lazy=True,  # written with the next batch: nobody waits on a cache hit
        )
        self.tracker.finish_run(run.id, "cached", cached_from=original.id, outputs=outputs)
        self._record_success(node.name, run.id, "cached", outputs, cached_from=original.id)
        self._report(node.name, "cached", detail={"cached_from": original.id})
        return True

    def _collect(self, future: Future[StepOutcome], task: StepTask) -> None:
        node = self.graph.nodes[task.node]
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001 - a step's failure is data, not a crash
            if task.attempt <= node.step.retries:
                self._report(node.name, "retrying", detail={"attempt": task.attempt + 1})
                self._submit(node, task.run_id, task.attempt + 1)
                return
            text = "".join(traceback.format_exception(exc))
            self._finish_failed(task, f"attempt {task.attempt} of {node.step.retries + 1}:\n{text}")
            return
        self.tracker.finish_run(
            task.run_id,
            "completed",
            wall_s=outcome.wall_s,
            cpu_s=outcome.cpu_s,
            outputs=outcome.outputs,
            peak_rss_mb=outcome.peak_rss_mb,
        )
        self._record_success(
            task.node,
            task.run_id,
            "completed",
            outcome.outputs,
            wall_s=outcome.wall_s,
            cpu_s=outcome.cpu_s,
            attempts=task.attempt,
        )
        self._report(task.node, "done", elapsed_s=outcome.wall_s)

    def _finish_failed(self, task: StepTask, error: str) -> None:
        self.tracker.finish_run(task.run_id, "failed", error=error)
        self.results[task.node] = StepResult(
            task.node, "failed", task.run_id, attempts=task.attempt, error=error
        )
        self._report(task.node, "failed")

    def _skip(self, node: Node) -> None:
        run = self.tracker.start_run(
            node.name,
            kind="step",
            parent_id=self.plan.run.id,
            pipeline_ref=self.plan.run.pipeline_ref,
            executor=self.executor.name,
            status="skipped",
            lazy=True,
        )
        self.tracker.finish_run(run.id, "skipped")
        self.results[node.name] = StepResult(node.name, "skipped", run.id)
        self._report(node.name, "skipped")

    def _report(
        self,
        name: str,
        state: str,
        *,
        elapsed_s: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        if self.plan.progress is not None:
            self.plan.progress(ProgressEvent("step", name, state, elapsed_s, detail or {}))

    def _record_success(
        self,
        name: str,
        run_id: str,
        status: str,
        outputs: list[OutputRecord],
        *,
        cached_from: str | None = None,
        wall_s: float | None = None,
        cpu_s: float | None = None,
        attempts: int = 0,
        reused: bool = False,
    ) -> None:
        self.records[name] = {o.name: o for o in outputs}
        self.results[name] = StepResult(
            name,
            status,
            run_id,
            cached_from=cached_from,
            wall_s=wall_s,
            cpu_s=cpu_s,
            attempts=attempts,
            outputs=tuple(outputs),
            reused=reused,
        )


def _jsonable_literals(node: Node) -> dict[str, Any]:
    """The node's literal arguments for the step run's params (handles shown by source)."""

    def show(value: Any) -> Any:
        if isinstance(value, StepOutput):
            return f"<{value.label}>"
        if isinstance(value, list | tuple):
            return [show(v) for v in value]
        if isinstance(value, dict):
            return {str(k): show(v) for k, v in value.items()}
        if value is None or isinstance(value, bool | int | float | str):
            return value if not isinstance(value, float) or math.isfinite(value) else str(value)
        return repr(value)

    return {k: show(v) for k, v in node.arguments.items()}
