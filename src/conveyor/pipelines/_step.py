"""``@step``: a plain function that becomes a DAG node when called while a pipeline is built."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, overload

from conveyor.pipelines._errors import PipelineDefinitionError
from conveyor.pipelines._handles import current_builder


class Step:
    """A step: a function plus how to run it (retries, caching, resources, outputs).

    Called outside a pipeline build it simply calls the function, so steps are unit
    testable; called while a pipeline is being built it records a node and returns a
    :class:`~conveyor.pipelines.StepOutput` handle (a tuple of handles for several outputs).

    Attributes:
        fn: The wrapped function.
        name: The step name (default: the function name).
        retries: How many times a failed attempt is retried.
        cache: Whether results may be reused from an earlier run with the same cache key.
        cpus, gpus, memory: Resources requested from executors that schedule them (Ray).
        outputs: ``None`` for one output, else the number of outputs (a tuple is returned).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        retries: int = 0,
        cache: bool = True,
        cpus: float = 1.0,
        gpus: float = 0.0,
        memory: int | None = None,
        outputs: int | None = None,
    ) -> None:
        if retries < 0:
            raise PipelineDefinitionError(
                f"Step {fn.__name__!r}: retries must be 0 or more, got {retries}.",
                hint="Use @step(retries=2) to retry twice.",
                step=fn.__name__,
            )
        self.fn = fn
        self.name = name or fn.__name__
        self.retries = retries
        self.cache = cache
        self.cpus = cpus
        self.gpus = gpus
        self.memory = memory
        self.outputs = outputs if outputs is not None else _tuple_arity(fn)
        if self.outputs is not None and self.outputs < 1:
            raise PipelineDefinitionError(
                f"Step {self.name!r}: outputs must be 1 or more, got {self.outputs}.",
                hint="Leave outputs unset for a single return value.",
                step=self.name,
            )
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:
            return self.fn(*args, **kwargs)
        return builder.add_call(self, args, kwargs)

    def __repr__(self) -> str:
        return f"Step({self.name!r})"

    @property
    def output_names(self) -> list[str]:
        """``["output"]`` for one output, else ``["output_0", "output_1", ...]``."""
        if self.outputs is None:
            return ["output"]
        return [f"output_{i}" for i in range(self.outputs)]


def _tuple_arity(fn: Callable[..., Any]) -> int | None:
    """Number of elements of a ``tuple[A, B]`` return annotation, else ``None``."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # noqa: BLE001 - unresolvable annotations just mean "one output"
        return _tuple_arity_from_text(inspect.signature(fn).return_annotation)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if args and Ellipsis not in args:
            return len(args)
    return None


def _tuple_arity_from_text(annotation: Any) -> int | None:
    if not isinstance(annotation, str):
        return None
    text = annotation.replace(" ", "")
    for prefix in ("tuple[", "Tuple[", "typing.Tuple["):
        if text.startswith(prefix) and text.endswith("]"):
            inner, depth, count = text[len(prefix) : -1], 0, 1
            for char in inner:
                depth += char in "[("
                depth -= char in "])"
                count += char == "," and depth == 0
            return None if "..." in inner else count
    return None


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    retries: int = 0,
    cache: bool = True,
    cpus: float = 1.0,
    gpus: float = 0.0,
    memory: int | None = None,
    outputs: int | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    cache: bool = True,
    cpus: float = 1.0,
    gpus: float = 0.0,
    memory: int | None = None,
    outputs: int | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Declare a pipeline step.

    Args:
        fn: The function (when used as a bare ``@step``).
        name: Step name; default the function name.
        retries: Attempts after the first failure.
        cache: Reuse outputs of an earlier run with the same cache key.
        cpus: CPUs requested (Ray executor).
        gpus: GPUs requested (Ray executor).
        memory: Bytes of memory requested (Ray executor).
        outputs: Number of outputs; default from a ``tuple[...]`` return annotation, else 1.

    Example:
        >>> @step(retries=1)
        ... def double(x: int) -> int:
        ...     return 2 * x
        >>> double(2)  # outside a pipeline: a plain call
        4
    """

    def wrap(func: Callable[..., Any]) -> Step:
        return Step(
            func,
            name=name,
            retries=retries,
            cache=cache,
            cpus=cpus,
            gpus=gpus,
            memory=memory,
            outputs=outputs,
        )

    return wrap(fn) if fn is not None else wrap
