"""Errors raised while defining, loading and running pipelines."""

from __future__ import annotations

from typing import Any

from conveyor.errors import ConveyorError


class PipelineDefinitionError(ConveyorError, ValueError):
    """A pipeline's DAG is invalid: a cycle, a foreign or unknown step output, a bad call."""

    code = "pipeline_definition_error"


class ParameterError(ConveyorError, ValueError):
    """A pipeline parameter is unknown, missing, or of the wrong type."""

    code = "parameter_error"


class PipelineNotFoundError(ConveyorError, LookupError):
    """``load_pipeline`` found no such module, file or pipeline attribute."""

    code = "pipeline_not_found"


class PipelineFailedError(ConveyorError):
    """At least one step failed; the run is recorded as failed.

    Attributes (in ``fields``): ``run_id``, ``failed`` (step names) and ``skipped``.
    """

    code = "pipeline_failed"

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message, hint=hint, **fields)
        self.run_id: str = fields.get("run_id", "")
        self.failed: list[str] = list(fields.get("failed", []))
        #: The :class:`PipelineRun` with every step's result (set by the runner).
        self.result: Any = None


class StepOutputError(ConveyorError, TypeError):
    """A step returned something that does not match its declared outputs."""

    code = "step_output_error"


class UnknownExecutorError(ConveyorError, LookupError):
    """No executor has the name a pipeline run asked for, or a class is not an executor."""

    code = "unknown_executor"
