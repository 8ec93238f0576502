"""The executor contract: run one step body somewhere and report its outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.core._progress import ProgressHook
    from conveyor.pipelines._step import Step
    from conveyor.tracking import OutputRecord
    from conveyor.workspace import Workspace


@dataclass(frozen=True)
class StepTask:
    """Everything needed to run one attempt of one node, wherever it runs.

    Attributes:
        node: Node name (also the step run's name).
        step: The step (its function travels to Ray workers by value).
        arguments: Bound arguments; handles are resolved from ``inputs``.
        inputs: Output records of upstream nodes by ``"node/output_name"``.
        run_id: The step run to log to.
        pipeline_run_id: The enclosing pipeline run.
        params: The pipeline's parameters (visible as ``current().params``).
        workspace_root: The project root.
        attempt: 1 for the first attempt.
        dataset_ref: For ``load_dataset`` nodes, the exact ``name@version`` to load.
        progress: Where code in the step reports progress (``conveyor.tune``'s trials);
            in-process executors only: executors that ship the task elsewhere drop it.
    """

    node: str
    step: Step
    arguments: dict[str, Any]
    inputs: dict[str, OutputRecord]
    run_id: str
    pipeline_run_id: str
    params: dict[str, Any]
    workspace_root: Path
    attempt: int = 1
    dataset_ref: str | None = None
    progress: ProgressHook | None = field(default=None, compare=False)


@dataclass(frozen=True)
class StepOutcome:
    """A successful attempt: its saved outputs and measured times."""

    outputs: list[OutputRecord]
    wall_s: float
    cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)


class Executor(ABC):
    """Runs step attempts; the runner decides what to run, when, and records everything.

    Contract:
        * :meth:`open` is called once before the first :meth:`submit` with the run's
          workspace, :meth:`close` once after the last result was collected (also on
          failure). Executors are used by one run at a time.
        * :meth:`submit` returns at once with a future; the future's result is a
          :class:`StepOutcome` (outputs already saved in the artifact store and buffered
          metrics flushed), or it raises the step's exception (or the executor's, e.g. a
          dead worker). The runner retries and records; executors never write run status.
        * :attr:`capacity` is how many attempts may be in flight at once.
    """

    name: ClassVar[str] = "executor"

    @property
    @abstractmethod
    def capacity(self) -> int:
        """Maximum number of attempts in flight."""

    def open(self, workspace: Workspace) -> None:  # noqa: B027 - optional hook
        """Acquire resources (thread pool, Ray connection) for a run in ``workspace``."""

    @abstractmethod
    def submit(self, task: StepTask) -> Future[StepOutcome]:
        """Start one attempt; return a future for its outcome."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`open` acquired."""


def resolve_executor(
    executor: str | Executor, *, max_workers: int | None = None, ray_address: str | None = None
) -> Executor:
    """Turn ``"local"``, ``"ray"`` or an instance into an executor.

    Raises:
        ConveyorError: An unknown executor name.
    """
    if isinstance(executor, Executor):
        return executor
    if executor == "local":
        from conveyor.pipelines.executors._local import LocalExecutor

        return LocalExecutor(max_workers=max_workers)
    if executor == "ray":
        from conveyor.pipelines.executors._ray import RayExecutor

        return RayExecutor(address=ray_address)
    raise ConveyorError(
        f"Unknown executor {executor!r}. Executors: local, ray.",
        hint="Pass --executor local (default) or --executor ray.",
        executor=executor,
    )
