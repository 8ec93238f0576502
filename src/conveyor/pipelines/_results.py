"""What a pipeline run returns: per-step results and access to output values."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.artifacts import ArtifactStore
    from conveyor.tracking import OutputRecord


@dataclass(frozen=True)
class StepResult:
    """How one node of a run ended.

    Attributes:
        name: Node name.
        status: ``completed``, ``cached``, ``failed`` or ``skipped``.
        run_id: The step run that holds its record (for a resumed step, the earlier one).
        cached_from: For ``cached`` steps, the step run whose outputs were reused.
        wall_s: Wall-clock seconds of the successful attempt (``None`` if not executed).
        cpu_s: CPU seconds of the successful attempt.
        attempts: How many times the step body was started in this run.
        outputs: Output records (name, hash, materializer, ...).
        error: Traceback of the last failed attempt.
        reused: True when resuming reused the step from the earlier attempt of the run.
    """

    name: str
    status: str
    run_id: str | None
    cached_from: str | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    attempts: int = 0
    outputs: tuple[OutputRecord, ...] = ()
    error: str | None = None
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "name": self.name,
            "status": self.status,
            "run_id": self.run_id,
            "cached_from": self.cached_from,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "attempts": self.attempts,
            "reused": self.reused,
            "outputs": {o.name: o.hash for o in self.outputs},
            "error": self.error,
        }


@dataclass
class PipelineRun:
    """A finished pipeline run.

    Attributes:
        run_id: The pipeline run's id.
        pipeline: Pipeline name.
        pipeline_ref: ``module:attr`` it was loaded by.
        status: ``completed`` or ``failed``.
        params: The bound parameters.
        executor: Executor name.
        steps: Results by node name, in execution order.
        datasets: ``{name: version}`` the ``load_dataset`` steps resolved to.
    """

    run_id: str
    pipeline: str
    pipeline_ref: str
    status: str
    params: dict[str, Any]
    executor: str
    steps: dict[str, StepResult] = field(default_factory=dict)
    datasets: dict[str, int] = field(default_factory=dict)
    artifacts: ArtifactStore | None = field(default=None, repr=False, compare=False)
    value_dir: Path | None = field(default=None, repr=False, compare=False)

    @property
    def short_id(self) -> str:
        """First 8 characters of the run id."""
        return self.run_id[:8]

    def output(self, step: str, index: int | None = None) -> Any:
        """Load the value a step produced (its ``index``-th output for several).

        Raises:
            ConveyorError: No such step or output, or the step did not succeed.
        """
        from conveyor.pipelines.materializers import load_value

        result = self.steps.get(step)
        if result is None:
            raise ConveyorError(
                f"Run {self.short_id} has no step {step!r}. Steps: {', '.join(self.steps)}.",
                hint="Use a node name as shown by `conveyor runs show`.",
                step=step,
            )
        name = "output" if index is None else f"output_{index}"
        record = next((o for o in result.outputs if o.name == name), None)
        if record is None or self.artifacts is None:
            raise ConveyorError(
                f"Step {step!r} of run {self.short_id} has no output {name!r} "
                f"(status {result.status}).",
                hint="Pass index=N for steps with several outputs.",
                step=step,
                output=name,
            )
        return load_value(
            self.artifacts, record.hash, record.materializer, record.meta, workdir=self.value_dir
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "pipeline_ref": self.pipeline_ref,
            "status": self.status,
            "params": self.params,
            "executor": self.executor,
            "datasets": self.datasets,
            "steps": [s.to_dict() for s in self.steps.values()],
        }
