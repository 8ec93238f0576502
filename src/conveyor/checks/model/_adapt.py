"""Bridges from a :class:`CheckContext` to the arrays and records the model checks measure."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.checks._base import Check, CheckResult
from conveyor.checks.model._inputs import (
    Outcome,
    Scored,
    binarize,
    model_classes,
    positive_label_of,
)

if TYPE_CHECKING:
    from conveyor.checks._context import CheckContext, Which
    from conveyor.tracking import MetricPoint


def to_result(check: Check, ctx: CheckContext, outcome: Outcome) -> CheckResult:
    """Wrap an outcome in the check's result (skipped outcomes keep their status)."""
    if outcome.final_status == "skipped":
        return CheckResult(
            name=check.name,
            subject=ctx.subject(check.subject_kind),
            passed=False,
            status="skipped",
            severity=check.severity,
            explanation=outcome.explanation,
            details=outcome.details,
        )
    return check.result(
        ctx,
        passed=outcome.passed,
        value=outcome.value,
        threshold=outcome.threshold,
        explanation=outcome.explanation,
        details=outcome.details,
    )


def scored(ctx: CheckContext, which: Which = "candidate") -> Scored:
    """The model's answers on the holdout, from the context's per-suite prediction cache."""
    y = ctx.labels.to_numpy()
    pred = ctx.predictions(which)
    positive = positive_label_of(y, ctx.positive_label)
    if positive is None:
        return Scored(y, pred, None)
    proba = ctx.probabilities(which)
    score: np.ndarray[Any, Any] | None = None
    if proba is not None:
        if proba.ndim == 1:
            score = proba.astype(float)
        else:
            classes = model_classes(ctx.model(which).predictor)
            column = proba.shape[1] - 1
            if classes is not None:
                column = next((i for i, c in enumerate(classes) if c == positive), column)
            score = proba[:, column].astype(float)
    return Scored(binarize(y, positive), binarize(pred, positive), score)


def run_id_of(ctx: CheckContext) -> str | None:
    """The run under test: the one given, else the candidate's source run."""
    if ctx.run_id is not None:
        return ctx.run_id
    if ctx.has_candidate:
        return ctx.candidate_version.run_id
    return None


def metric_series(ctx: CheckContext, key: str) -> tuple[list[float], list[str]]:
    """The values logged for ``key`` by the run (or its first step that logged it).

    Returns the series and the metric keys seen, for a helpful "missing" message.
    """
    run_id = run_id_of(ctx)
    if run_id is None:
        return [], []
    runs = ctx.workspace.runs
    seen: set[str] = set()
    for candidate in [run_id, *(child.id for child in runs.children(run_id))]:
        points: list[MetricPoint] = runs.metrics(candidate)
        seen.update(p.key for p in points)
        values = [p.value for p in points if p.key == key]
        if values:
            return [float(v) for v in values], sorted(seen)
    return [], sorted(seen)


def recorded_metrics(ctx: CheckContext) -> tuple[dict[str, Any], str]:
    """Recorded metric values and where they came from (model version, else run and steps)."""
    if ctx.has_candidate:
        metrics = dict(ctx.candidate_version.metrics)
        if metrics:
            return {k: _number(v) for k, v in metrics.items()}, f"model {ctx.candidate_ref}"
    run_id = run_id_of(ctx)
    if run_id is None:
        return {}, "evaluation (no run or model metrics)"
    runs = ctx.workspace.runs
    merged: dict[str, Any] = {}
    for child in runs.children(run_id):
        merged.update(runs.latest_metrics(child.id))
    merged.update(runs.latest_metrics(run_id))
    return merged, f"run {run_id}"


def _number(value: Any) -> Any:
    # The registry stores NaN metrics as None; a check must see them as NaN, not missing.
    return math.nan if value is None else value
