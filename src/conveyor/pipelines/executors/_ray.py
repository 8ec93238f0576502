"""The Ray executor: each step attempt is a Ray task with the step's declared resources."""

from __future__ import annotations

import sys
import time
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from conveyor.errors import ConveyorError
from conveyor.pipelines.executors._base import Executor, StepOutcome, StepTask
from conveyor.pipelines.executors._execute import execute_task

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


def _run_in_worker(root: str, env: dict[str, str], task: StepTask) -> StepOutcome:
    """Body of the Ray task: open the workspace in the worker and run the attempt."""
    from conveyor.workspace import Workspace

    with Workspace.open(root, env=env, search_parents=False) as ws:
        return execute_task(ws, task, time.process_time)


class RayExecutor(Executor):
    """Run each step attempt as a Ray task (``num_cpus``/``num_gpus``/``memory`` from the step).

    Workers open the same workspace (metadata store and artifact store from the
    project's configuration and the ``CONVEYOR_*`` variables of this process), load their
    inputs from the artifact store, run the step in its run context and save its outputs.
    On a cluster, the metadata and artifact stores must be reachable from every node
    (PostgreSQL and S3, say). Project modules are shipped to workers by value, so workers
    need conveyor and the libraries steps import, not the project's source.

    Ray's own task retries are off: a failed attempt, including a worker that died, is
    reported to the runner, which applies the step's ``retries``.

    Args:
        address: ``None`` starts (or joins) a local Ray instance; ``"auto"`` or
            ``"ray://host:port"`` connects to a cluster. An already initialised Ray is used
            as it is and left running. A local instance started here lives only as long as
            the run, so it starts without Ray's dashboard (pass ``include_dashboard=True`` to
            have one).
        init_kwargs: Extra arguments for ``ray.init``.
    """

    name: ClassVar[str] = "ray"

    @classmethod
    def create(
        cls, *, max_workers: int | None = None, ray_address: str | None = None
    ) -> RayExecutor:
        """Connect to ``ray_address`` (default: a local instance); ``max_workers`` is unused."""
        return cls(address=ray_address)

    def __init__(self, address: str | None = None, **init_kwargs: Any) -> None:
        self.address = address
        self.init_kwargs = (
            {"include_dashboard": False, **init_kwargs} if address is None else init_kwargs
        )
        self._started = False
        self._remote: Any = None
        self._root = ""
        self._env: dict[str, str] = {}

    @property
    def capacity(self) -> int:
        """Attempts in flight: Ray queues by resources, so this only bounds bookkeeping."""
        return 1024

    def open(self, workspace: Workspace) -> None:
        """Connect to (or start) Ray and prepare the remote function."""
        try:
            import ray
            import ray.cloudpickle
        except ImportError as exc:
            raise ConveyorError(
                "The Ray executor needs the ray package, which is not installed.",
                hint="Install it with `pip install 'conveyor-ml[ray]'`.",
            ) from exc
        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_kwargs)
            self._started = True
        _ship_project_modules(ray.cloudpickle, workspace.root)
        self._root = str(workspace.root)
        environ = workspace.settings.environ
        self._env = {k: v for k, v in environ.items() if k.startswith("CONVEYOR_")}
        self._remote = ray.remote(max_retries=0)(_run_in_worker)

    def submit(self, task: StepTask) -> Future[StepOutcome]:
        """Start the attempt as a Ray task with the step's resources."""
        if self._remote is None:
            raise ConveyorError(
                "RayExecutor.submit called before open().",
                hint="Executors are opened by the pipeline runner.",
            )
        step = task.step
        options: dict[str, Any] = {"num_cpus": step.cpus, "num_gpus": step.gpus}
        if step.memory:
            options["memory"] = step.memory
        # A progress hook lives in this process (a terminal renderer): it does not travel.
        shipped = replace(task, progress=None)
        ref = self._remote.options(**options).remote(self._root, self._env, shipped)
        future: Future[StepOutcome] = ref.future()
        return future

    def close(self) -> None:
        """Disconnect from Ray if this executor started it."""
        if self._started:
            import ray

            ray.shutdown()
        self._started = False
        self._remote = None


def _ship_project_modules(cloudpickle: Any, root: Path) -> None:
    """Pickle functions of modules under ``root`` by value, so workers need not import them."""
    base = root.resolve()
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if not filename or name.startswith("conveyor"):
            continue
        path = Path(filename).resolve()
        if "site-packages" in path.parts or not path.is_relative_to(base):
            continue
        try:
            cloudpickle.register_pickle_by_value(module)
        except ValueError:  # a module that is not fully importable; keep by reference
            continue
