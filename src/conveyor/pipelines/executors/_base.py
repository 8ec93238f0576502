"""The executor contract: run one step body somewhere and report its outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

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
    """A successful attempt: its saved outputs, measured times and peak memory.

    ``peak_rss_mb`` is the high-water mark (``ru_maxrss``) of the process that ran the
    attempt, measured there at its end: for an in-process executor the whole process's peak
    so far, for a worker process that worker's; ``None`` when it could not be measured.
    """

    outputs: list[OutputRecord]
    wall_s: float
    cpu_s: float
    peak_rss_mb: float | None = None
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

    @classmethod
    def create(cls, *, max_workers: int | None = None, ray_address: str | None = None) -> Executor:
        """Build one from a pipeline run's options (``--max-workers``, ``--ray-address``).

        The default ignores both options; executors that use one override this.
        """
        return cls()


def resolve_executor(
    executor: str | Executor, *, max_workers: int | None = None, ray_address: str | None = None
) -> Executor:
    """Turn an executor name (``"local"``, ``"ray"``, a plug-in's) or an instance into one.

    Names are looked up in the executor registry
    (:func:`~conveyor.pipelines.executors.get_executor`) and built with
    :meth:`Executor.create`.

    Raises:
        UnknownExecutorError: no executor has that name.
    """
    if isinstance(executor, Executor):
        return executor
    from conveyor.pipelines.executors._plugins import get_executor

    return get_executor(executor).create(max_workers=max_workers, ray_address=ray_address)
