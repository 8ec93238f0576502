"""The local executor: steps run in a thread pool of this process."""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, ClassVar

from conveyor.errors import ConveyorError
from conveyor.pipelines.executors._base import Executor, StepOutcome, StepTask
from conveyor.pipelines.executors._execute import execute_task

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


class LocalExecutor(Executor):
    """Run independent steps concurrently in threads (the default executor).

    Threads suit steps that release the GIL (NumPy, pandas, scikit-learn, I/O); each
    step's CPU time is measured with ``time.thread_time``. ``max_workers=1`` runs steps
    one at a time in DAG order.

    Args:
        max_workers: Concurrent steps; default ``os.cpu_count()``.
    """

    name: ClassVar[str] = "local"

    @classmethod
    def create(
        cls, *, max_workers: int | None = None, ray_address: str | None = None
    ) -> LocalExecutor:
        """A thread pool of ``max_workers`` (default: the CPU count); ``ray_address`` is unused."""
        return cls(max_workers=max_workers)

    def __init__(self, max_workers: int | None = None) -> None:
        workers = max_workers if max_workers is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise ConveyorError(
                f"max_workers must be 1 or more, got {workers}.",
                hint="Pass max_workers=1 to run steps one at a time.",
                max_workers=workers,
            )
        self.max_workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._workspace: Workspace | None = None

    @property
    def capacity(self) -> int:
        """``max_workers``."""
        return self.max_workers

    def open(self, workspace: Workspace) -> None:
        """Start the thread pool."""
        self._workspace = workspace
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="conveyor-step")

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        """Run the attempt in a pool thread."""
        if self._pool is None or self._workspace is None:
            raise ConveyorError(
                "LocalExecutor.submit called before open().",
                hint="Executors are opened by the pipeline runner.",
            )
        return self._pool.submit(execute_task, self._workspace, task, time.thread_time)

    def close(self) -> None:
        """Wait for running attempts and stop the pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._pool = None
        self._workspace = None
