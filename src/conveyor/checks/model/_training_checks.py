"""Checks on what training recorded: ``loss_decreases``, ``overfitting``, ``min_metric``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from conveyor.checks._base import Check, CheckParams, CheckResult
from conveyor.checks.model import _training
from conveyor.checks.model._adapt import metric_series, recorded_metrics, scored, to_result
from conveyor.checks.model._metrics import METRICS, compute, get_metric

if TYPE_CHECKING:
    from conveyor.checks._context import CheckContext


class LossDecreasesCheck(Check):
    """A logged training series (default ``loss``) ends lower than it starts."""

    name: ClassVar[str] = "loss_decreases"
    subject_kind = "model"
    description = "The logged loss series decreases from its first to its last values."

    class Params(CheckParams):
        metric: str = "loss"
        window: int = Field(default=1, ge=1)
        min_relative_decrease: float = 0.0

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        series, seen = metric_series(ctx, params["metric"])
        if not series:
            return to_result(self, ctx, _training.missing_metric(params["metric"], seen, "run"))
        outcome = _training.loss_decreases(
            params["metric"],
            series,
            window=params["window"],
            min_relative_decrease=params["min_relative_decrease"],
        )
        return to_result(self, ctx, outcome)


class OverfittingCheck(Check):
    """The gap between a training and a validation metric stays within ``max_gap``."""

    name: ClassVar[str] = "overfitting"
    subject_kind = "model"
    description = "Training minus validation metric is at most max_gap."

    class Params(CheckParams):
        train_metric: str = "train_score"
        validation_metric: str = "val_score"
        max_gap: float = Field(default=0.05, ge=0)
        higher_is_better: bool = True

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        metrics, where = recorded_metrics(ctx)
        outcome = _training.overfitting(
            metrics,
            train_metric=params["train_metric"],
            validation_metric=params["validation_metric"],
            max_gap=params["max_gap"],
            higher_is_better=params["higher_is_better"],
            where=where,
        )
        return to_result(self, ctx, outcome)


class MinMetricCheck(Check):
    """A metric is at least ``min`` (and/or at most ``max``).

    ``source="holdout"`` computes it on the holdout (names in ``METRICS``); ``"recorded"``
    reads the model version's (else the run's) recorded value; ``"auto"`` uses the holdout
    when an evaluation target is declared and the metric is a known one.
    """

    name: ClassVar[str] = "min_metric"
    subject_kind = "model"
    description = "A metric meets its minimum (or maximum) on the holdout or as recorded."

    class Params(CheckParams):
        metric: str
        min: float | None = None
        max: float | None = None
        source: Literal["auto", "holdout", "recorded"] = "auto"

        @model_validator(mode="after")
        def _bounded(self) -> Self:
            if self.min is None and self.max is None:
                raise ValueError("give min, max or both")
            if self.source == "holdout" and self.metric not in METRICS:
                raise ValueError(
                    f"metric {self.metric!r} cannot be computed on the holdout; "
                    f"use one of {', '.join(sorted(METRICS))} or source='recorded'"
                )
            return self

    def run(self, ctx: CheckContext, **params: Any) -> CheckResult:
        name = params["metric"]
        source = params["source"]
        if source == "auto":
            source = "holdout" if ctx.target is not None and name in METRICS else "recorded"
        if source == "holdout":
            metric = get_metric(name)
            answers = scored(ctx)
            value: Any = compute(metric, answers.y, answers.pred, answers.score)
            where = f"holdout ({len(answers.y)} rows)"
        else:
            metrics, where = recorded_metrics(ctx)
            if name not in metrics:
                return to_result(self, ctx, _training.missing_metric(name, list(metrics), where))
            value = metrics[name]
        outcome = _training.metric_bounds(
            name, value, minimum=params["min"], maximum=params["max"], where=where
        )
        return to_result(self, ctx, outcome)
