"""Registering a model from a pipeline: ``conveyor.register_model`` inside a step, and the
evaluation metrics a pipeline run recorded for the version it produced."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigError, ConveyorError
from conveyor.tracking import StepNotFoundError, current
from conveyor.workspace import Workspace

if TYPE_CHECKING:
    from conveyor.registry import ModelVersion


@dataclass(frozen=True)
class EvaluationMetrics:
    """The metrics a pipeline run logged for its model, and the step each came from.

    Attributes:
        metrics: Metric key -> latest value. Keys are as logged, or ``<step>.<key>`` when
            several steps logged the same key (see ``RunTracker.run_tree_metrics``).
        sources: Metric key -> the step that logged it (``None``: the pipeline run itself).
        step: The step the metrics were read from when one was named.
    """

    metrics: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str | None] = field(default_factory=dict)
    step: str | None = None

    def record(self) -> dict[str, Any]:
        """The evaluation record a model version keeps (``ModelVersion.evaluation``)."""
        return {"metric_sources": dict(self.sources), "metrics_step": self.step}


def evaluation_metrics(ws: Workspace, run_id: str, *, step: str | None = None) -> EvaluationMetrics:
    """The evaluation metrics of pipeline run ``run_id`` (or of the pipeline a step ran in).

    Metrics are logged on step runs, not on the pipeline run; this reads them from the run
    tree through the tracking API: from ``step`` when given (``evaluation.metrics_step``),
    else from every step of the run (a key logged by several steps is qualified by the
    step's name). A cached step contributes the values of the run whose work it reused.

    Args:
        ws: The workspace.
        run_id: A pipeline run, or a step run (its pipeline run is read).
        step: The step whose metrics are the evaluation metrics.

    Raises:
        ConfigError: ``step`` is not a step of the run (the message names the closest).

    Example:
        >>> found = evaluation_metrics(ws, result.run_id, step="evaluate")  # doctest: +SKIP
        >>> found.metrics["accuracy"], found.sources["accuracy"]  # doctest: +SKIP
        (0.93, 'evaluate')
    """
    run = ws.runs.get(run_id)
    root = run.parent_id if run.kind == "step" and run.parent_id else run.id
    try:
        tree = ws.runs.run_tree_metrics(root, step=step)
    except StepNotFoundError as exc:
        steps = sorted({child.name for child in ws.runs.children(root) if child.kind == "step"})
        close = difflib.get_close_matches(str(step), steps, n=1)
        raise ConfigError(
            f"evaluation.metrics_step {step!r} is not a step of the training pipeline; "
            f"steps: {', '.join(steps) or 'none'}.",
            hint=f"Did you mean {close[0]!r}?"
            if close
            else "Name the step that logs the "
            "evaluation metrics, or remove metrics_step to gather them from every step.",
            step=step,
            steps=steps,
        ) from exc
    sources: dict[str, str | None] = {}
    metrics: dict[str, float] = {}
    for key, point in tree.items():
        metrics[key] = float(point.value)
        sources[key] = point.source if step is None else step
    return EvaluationMetrics(metrics, sources, step)


def register_model(name: str, model: Any, **kwargs: Any) -> ModelVersion:
    """Register ``model`` in the current run's workspace, with the run as its lineage.

    The version records the step run, hence the dataset versions the pipeline read and the
    code version it ran, and (unless ``metrics`` is given) the evaluation metrics logged so
    far in the pipeline run: those of the step named by ``evaluation.metrics_step``, else
    of every step (see :func:`evaluation_metrics`), each with the step that logged it.
    Takes the keyword arguments of :meth:`conveyor.registry.ModelRegistry.register`.

    Raises:
        ConveyorError: called outside a run (use ``ws.models.register`` there).

    Example:
        >>> @conveyor.step  # doctest: +SKIP
        ... def publish(model: LogisticRegression, X: pd.DataFrame) -> int:
        ...     return conveyor.register_model("churn", model, input_example=X.head(5)).version
    """
    ctx = current()
    if ctx is None:
        raise ConveyorError(
            f"register_model({name!r}) was called outside a pipeline run.",
            hint="Call it inside a @conveyor.step, or use ws.models.register(...) directly.",
            name=name,
        )
    ctx.tracker.flush(ctx.run_id)  # the version reads the run's metrics from the store
    kwargs.setdefault("run", ctx.run_id)
    with Workspace.open(ctx.workspace_root, search_parents=False) as ws:
        if "metrics" not in kwargs:
            step = ws.settings.config.evaluation.metrics_step
            try:
                found = evaluation_metrics(ws, ctx.run_id, step=step)
            except ConfigError:
                # The named step has not run yet in this pipeline: take what has been logged.
                found = evaluation_metrics(ws, ctx.run_id)
            kwargs["metrics"] = found.metrics
            kwargs.setdefault("evaluation", found.record())
        return ws.models.register(name, model, **kwargs)
