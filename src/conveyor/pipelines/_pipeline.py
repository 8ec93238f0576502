"""``@pipeline``: a function whose step calls build the DAG; ``Pipeline.run`` runs it."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from conveyor.pipelines._cache import check_literal
from conveyor.pipelines._errors import PipelineDefinitionError
from conveyor.pipelines._graph import Graph, GraphBuilder
from conveyor.pipelines._handles import current_builder, reset_builder, set_builder
from conveyor.pipelines._params import bind_params

if TYPE_CHECKING:
    from conveyor.core._progress import ProgressHook
    from conveyor.pipelines._results import PipelineRun
    from conveyor.pipelines.executors import Executor
    from conveyor.workspace import Workspace


class Pipeline:
    """A DAG of steps defined by a function; build it with :meth:`build`, run with :meth:`run`.

    Attributes:
        fn: The pipeline function.
        name: The pipeline name (default: the function name).
        ref: ``"module:attr"`` (or ``"path/file.py:attr"``) it is loaded by; recorded on runs.
    """

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.ref = _default_ref(fn)
        self.source_file: Path | None = _source_file(fn)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly: steps run eagerly as plain functions (no tracking)."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, ref={self.ref!r})"

    def bind(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Validate and coerce ``params`` against the signature (see ``ParameterError``)."""
        return bind_params(self.name, self.fn, params)

    def build(self, params: Mapping[str, Any] | None = None) -> Graph:
        """Call the function with the bound params, recording the DAG.

        Raises:
            ParameterError: Bad parameters.
            PipelineDefinitionError: The DAG is invalid (or empty), or pipelines are nested.
        """
        bound = self.bind(params)
        if current_builder() is not None:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} was built inside another pipeline build.",
                hint="Call steps, not pipelines, inside a pipeline function.",
                pipeline=self.name,
            )
        builder = GraphBuilder(self.name, check_literal)
        token = set_builder(builder)
        try:
            self.fn(**bound)
        finally:
            reset_builder(token)
        graph = builder.graph
        if not graph.nodes:
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} calls no steps.",
                hint="Decorate the functions it calls with @step.",
                pipeline=self.name,
            )
        graph.order()
        return graph

    def run(
        self,
        workspace: Workspace | str | Path | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        executor: str | Executor = "local",
        cache: bool = True,
        max_workers: int | None = None,
        resume: str | None = None,
        ray_address: str | None = None,
        dataset_pins: Mapping[str, int] | None = None,
        progress: ProgressHook | None = None,
    ) -> PipelineRun:
        """Run the pipeline and record it.

        Args:
            workspace: A workspace, a path inside a project, or ``None`` for the folder
                holding the pipeline's module (else the working folder).
            params: Parameter values; strings are coerced to the annotated types.
            executor: ``"local"``, ``"ray"`` or an :class:`Executor`.
            cache: ``False`` re-runs every step (``--no-cache``).
            max_workers: Concurrent steps for the local executor (default: CPU count).
            resume: A failed run's id: reuse its finished steps, run the rest, same run id.
            ray_address: Ray cluster address for ``executor="ray"``.
            dataset_pins: ``{dataset: version}`` overriding the versions ``load_dataset``
                references resolve to (used by ``repro``).
            progress: Called with a :class:`~conveyor.core._progress.ProgressEvent` as each
                step starts (``running``) and ends (``done`` with its time, ``cached``,
                ``resumed``, ``failed``, ``skipped``); with the local executor a
                :func:`conveyor.tune` call inside a step also reports its trials to it.

        Returns:
            The finished run.

        Raises:
            PipelineFailedError: A step failed (the run is recorded as failed).

        Example:
            >>> result = training.run(params={"lr": "0.05"})  # doctest: +SKIP
            >>> result.status
            'completed'
        """
        from conveyor.pipelines._runner import run_pipeline

        return run_pipeline(
            self,
            workspace,
            params=params,
            executor=executor,
            cache=cache,
            max_workers=max_workers,
            resume=resume,
            ray_address=ray_address,
            dataset_pins=dataset_pins,
            progress=progress,
        )


def _default_ref(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", "") or ""
    if module == "__main__":
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if main_file:
            return f"{main_file}:{fn.__name__}"
    return f"{module}:{fn.__name__}"


def _source_file(fn: Callable[..., Any]) -> Path | None:
    filename = getattr(sys.modules.get(fn.__module__ or ""), "__file__", None)
    return Path(filename).resolve() if filename else None


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Declare a pipeline: its parameters are the function's, with defaults and types.

    Example:
        >>> @pipeline
        ... def training(data: str = "iris@latest", lr: float = 0.1) -> None:
        ...     df = load_dataset(data)
        ...     model = train(df, lr=lr)
        ...     evaluate(model, df)
    """

    def wrap(func: Callable[..., Any]) -> Pipeline:
        return Pipeline(func, name=name)

    return wrap(fn) if fn is not None else wrap
