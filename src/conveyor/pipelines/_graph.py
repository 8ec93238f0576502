"""The DAG of a pipeline: nodes recorded from step calls, validation and ordering."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.pipelines._errors import PipelineDefinitionError
from conveyor.pipelines._handles import StepOutput

if TYPE_CHECKING:
    from conveyor.pipelines._step import Step


@dataclass(frozen=True)
class Node:
    """One call of a step in a pipeline.

    Attributes:
        name: Unique within the graph: the step name, ``name_2`` for its second call, ...
        step: The step called.
        arguments: Bound arguments by parameter name; values are literals or
            :class:`StepOutput` handles (also inside lists, tuples and dicts).
        deps: Names of the nodes whose outputs this node consumes, in first-use order.
    """

    name: str
    step: Step
    arguments: dict[str, Any]
    deps: tuple[str, ...]


def iter_handles(value: Any) -> Iterator[StepOutput]:
    """Yield every handle inside ``value`` (itself, or nested in lists, tuples and dicts)."""
    if isinstance(value, StepOutput):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from iter_handles(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_handles(item)


def replace_handles(value: Any, fetch: Callable[[StepOutput], Any]) -> Any:
    """Return ``value`` with every handle replaced by ``fetch(handle)``."""
    if isinstance(value, StepOutput):
        return fetch(value)
    if isinstance(value, list):
        return [replace_handles(v, fetch) for v in value]
    if isinstance(value, tuple):
        return tuple(replace_handles(v, fetch) for v in value)
    if isinstance(value, dict):
        return {k: replace_handles(v, fetch) for k, v in value.items()}
    return value


@dataclass
class Graph:
    """A validated DAG of step calls, in the order they were made.

    Attributes:
        pipeline: The pipeline name.
        build_id: The build that produced it (handles carry it).
        nodes: Nodes by name, in insertion order.
    """

    pipeline: str
    build_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    nodes: dict[str, Node] = field(default_factory=dict)

    def order(self) -> list[Node]:
        """The nodes in a valid execution order (stable: ties keep insertion order).

        Raises:
            PipelineDefinitionError: A node uses an output of a node that does not exist,
                or the nodes form a cycle (the message names the nodes involved).
        """
        for node in self.nodes.values():
            for dep in node.deps:
                if dep not in self.nodes:
                    raise PipelineDefinitionError(
                        f"Step {node.name!r} of pipeline {self.pipeline!r} uses the output of "
                        f"{dep!r}, which does not exist (used before it was produced).",
                        hint="Call the producing step first and pass its returned handle.",
                        step=node.name,
                        missing=dep,
                    )
        indegree = {name: len(set(n.deps)) for name, n in self.nodes.items()}
        users: dict[str, list[str]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for dep in set(node.deps):
                users[dep].append(node.name)
        ready = [name for name, count in indegree.items() if count == 0]
        ordered: list[Node] = []
        while ready:
            name = ready.pop(0)
            ordered.append(self.nodes[name])
            for user in users[name]:
                indegree[user] -= 1
                if indegree[user] == 0:
                    ready.append(user)
        if len(ordered) != len(self.nodes):
            stuck = sorted(name for name, count in indegree.items() if count > 0)
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r} has a cycle among steps {', '.join(stuck)}.",
                hint="A step cannot depend, directly or not, on its own output.",
                pipeline=self.pipeline,
                steps=stuck,
            )
        return ordered

    def dependents(self, name: str) -> set[str]:
        """Every node that depends on ``name``, directly or transitively."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for node in self.nodes.values():
                if current in node.deps and node.name not in found:
                    found.add(node.name)
                    frontier.append(node.name)
        return found


class GraphBuilder:
    """Records step calls made while a pipeline function runs (see ``set_builder``)."""

    def __init__(self, pipeline: str, check_literal: Callable[[str, str, Any], None]) -> None:
        self.graph = Graph(pipeline)
        self._check_literal = check_literal
        self._calls: dict[str, int] = {}

    def add_call(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Record one call of ``step``; return its handle(s)."""
        graph = self.graph
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(
                f"Step {step.name!r} was called with arguments that do not fit its "
                f"signature {step.name}{step.signature}: {exc}.",
                hint="Pass every parameter without a default, by position or by name.",
                step=step.name,
            ) from exc
        bound.apply_defaults()
        deps: list[str] = []
        for param, value in bound.arguments.items():
            handles = list(iter_handles(value))
            for handle in handles:
                if handle.build_id != graph.build_id:
                    raise PipelineDefinitionError(
                        f"Step {step.name!r} got the output of {handle.label!r} from another "
                        f"pipeline build ({handle.pipeline!r}), not from pipeline "
                        f"{graph.pipeline!r}.",
                        hint="Handles are only valid inside the pipeline call that made them; "
                        "do not keep them in globals or share them between pipelines.",
                        step=step.name,
                        foreign=handle.label,
                    )
                if handle.node not in deps:
                    deps.append(handle.node)
            if not handles:
                self._check_literal(step.name, param, value)
        count = self._calls.get(step.name, 0) + 1
        self._calls[step.name] = count
        name = step.name if count == 1 else f"{step.name}_{count}"
        graph.nodes[name] = Node(name, step, dict(bound.arguments), tuple(deps))
        if step.outputs is None:
            return StepOutput(graph.build_id, graph.pipeline, name)
        return tuple(
            StepOutput(graph.build_id, graph.pipeline, name, i) for i in range(step.outputs)
        )
