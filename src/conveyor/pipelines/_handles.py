"""Step output handles and the build context that records step calls."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from conveyor.pipelines._errors import PipelineDefinitionError

if TYPE_CHECKING:
    from conveyor.pipelines._graph import GraphBuilder

_BUILDER: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar(
    "conveyor_pipeline_builder", default=None
)


def current_builder() -> GraphBuilder | None:
    """The graph being built in this context, or ``None`` outside a pipeline build."""
    return _BUILDER.get()


def set_builder(builder: GraphBuilder | None) -> contextvars.Token[GraphBuilder | None]:
    """Make ``builder`` current; pass the token to :func:`reset_builder`."""
    return _BUILDER.set(builder)


def reset_builder(token: contextvars.Token[GraphBuilder | None]) -> None:
    """Restore the previous build context."""
    _BUILDER.reset(token)


@dataclass(frozen=True, eq=False)
class StepOutput:
    """A placeholder for a step's output while a pipeline is being built.

    Pass it to other steps; it is not the value itself. Using it like a value (reading an
    attribute, testing its truth, iterating a single output) raises
    :class:`PipelineDefinitionError`, because the value only exists when the pipeline runs.

    Attributes:
        build_id: Identifies the build (pipeline call) that made the handle.
        pipeline: Name of the pipeline being built.
        node: Name of the producing node (``train``, or ``train_2`` for a second call).
        index: Output position for multi-output steps, else ``None``.
    """

    build_id: str
    pipeline: str
    node: str
    index: int | None = None

    @property
    def label(self) -> str:
        """``node`` or ``node[index]`` for messages."""
        return self.node if self.index is None else f"{self.node}[{self.index}]"

    @property
    def output_name(self) -> str:
        """The recorded output name: ``output`` or ``output_<index>``."""
        return "output" if self.index is None else f"output_{self.index}"

    def _misuse(self, what: str) -> NoReturn:
        raise PipelineDefinitionError(
            f"The output of step {self.label!r} was {what} while pipeline {self.pipeline!r} "
            "was being built; it is a placeholder, not the value.",
            hint="Pass step outputs only to @step functions (do the work inside a step).",
            step=self.node,
            pipeline=self.pipeline,
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._misuse(f"used as a value (attribute {name!r})")

    def __bool__(self) -> bool:  # noqa: PLE0304 - it always raises
        self._misuse("tested for truth")

    def __iter__(self) -> NoReturn:
        self._misuse("unpacked or iterated (declare outputs=N or a tuple[...] return type)")

    def __len__(self) -> int:  # noqa: PLE0303 - it always raises
        self._misuse("given to len()")

    def __repr__(self) -> str:
        return f"StepOutput({self.label!r})"
