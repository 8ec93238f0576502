"""What ``conveyor ci`` trains and how it judges it: the configuration, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.checks import CheckSpec
from conveyor.errors import ConfigError

if TYPE_CHECKING:
    from conveyor.config import ConveyorConfig, EvaluationConfig


@dataclass(frozen=True)
class CIPlan:
    """What ``conveyor ci`` trains and how it judges it: the configuration, checked.

    Built by :meth:`from_config`, which refuses a configuration missing any of these, so
    the phases below work with plain values instead of optional ones.

    Attributes:
        pipeline: The training pipeline reference (``pipelines.training``).
        model: Registry name of the candidate (``evaluation.model``).
        model_step: Step whose output is the model.
        holdout_step: Step holding the holdout frame.
        holdout_output: Index of that step's output.
        target: Label column of the holdout.
        metrics_step: Step whose logged metrics the version records (``None``: the run's).
        evaluation: The whole ``evaluation`` section (columns the checks name).
        gates: The configured gates, in order.
        params: Pipeline parameters from the configuration.
    """

    pipeline: str
    model: str
    model_step: str
    holdout_step: str
    holdout_output: int
    target: str
    metrics_step: str | None
    evaluation: EvaluationConfig
    gates: tuple[CheckSpec, ...]
    params: Mapping[str, Any]

    @classmethod
    def from_config(cls, config: ConveyorConfig) -> CIPlan:
        """Check ``config`` and return the plan.

        Raises:
            ConfigError: ``pipelines.training`` or a required ``evaluation`` field is
                missing (the error lists every missing key).
        """
        evaluation = config.evaluation
        required = {
            "pipelines.training": config.pipelines.training,
            "evaluation.model": evaluation.model,
            "evaluation.model_step": evaluation.model_step,
            "evaluation.holdout_step": evaluation.holdout_step,
            "evaluation.target": evaluation.target,
        }
        missing = [key for key, value in required.items() if not value]
        if missing:
            raise ConfigError(
                f"`conveyor ci` needs {', '.join(missing)} in conveyor.yaml.",
                hint="Name the training pipeline (pipelines.training: MODULE:PIPELINE) and how "
                "to find the model and holdout in its run (evaluation: model, model_step, "
                "holdout_step, holdout_output, target). See docs/checks.md.",
                missing=missing,
            )
        return cls(
            pipeline=str(config.pipelines.training),
            model=str(evaluation.model),
            model_step=str(evaluation.model_step),
            holdout_step=str(evaluation.holdout_step),
            holdout_output=evaluation.holdout_output,
            target=str(evaluation.target),
            metrics_step=evaluation.metrics_step,
            evaluation=evaluation,
            gates=tuple(gate_specs(config)),
            params=dict(config.pipelines.params),
        )


def gate_specs(config: ConveyorConfig) -> list[CheckSpec]:
    """The ``gates:`` of a configuration as check specs, in order."""
    return [CheckSpec(gate.check, dict(gate.params), gate.severity) for gate in config.gates]
