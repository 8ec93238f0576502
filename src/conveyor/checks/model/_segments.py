"""Metrics per segment of the holdout: slice minimums and fairness over sensitive attributes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from conveyor.checks.model._errors import ModelCheckInputError
from conveyor.checks.model._inputs import Outcome, Scored, finite, fmt, require_columns
from conveyor.checks.model._metrics import Metric, compute
from conveyor.checks.model._stats import group_rates


def slices(
    frame: pd.DataFrame,
    scored: Scored,
    columns: Sequence[str],
    metric: Metric,
    *,
    minimum: float,
    min_rows: int = 30,
) -> Outcome:
    """Whether ``metric`` reaches ``minimum`` in every segment of every slice column.

    Segments with fewer than ``min_rows`` rows, or where the metric is undefined (ROC AUC of a
    single-class segment), are listed but not judged.
    """
    require_columns(frame, columns, "slice")
    if not columns:
        raise ModelCheckInputError(
            "The slices check has no slice columns to evaluate.",
            hint="Declare evaluation.slices in conveyor.yaml or pass params.columns.",
        )
    segments: list[dict[str, Any]] = []
    for column in columns:
        values = frame[column].astype(str).to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            count = int(mask.sum())
            entry: dict[str, Any] = {"column": column, "segment": value, "rows": count}
            if count < min_rows:
                entry["status"] = "too_small"
            else:
                part = scored.take(mask)
                m = compute(metric, part.y, part.pred, part.score)
                entry["value"] = m if finite(m) else None
                entry["status"] = (
                    "undefined" if not finite(m) else ("passed" if m >= minimum else "failed")
                )
            segments.append(entry)
    judged = [s for s in segments if s["status"] in ("passed", "failed")]
    failing = [s for s in segments if s["status"] == "failed"]
    plot = {"kind": "bars", "metric": metric.name, "minimum": minimum, "segments": segments}
    if not judged:
        return Outcome(
            passed=False,
            value=None,
            threshold=minimum,
            explanation=f"No segment of {', '.join(columns)} has at least {min_rows} rows with "
            f"a defined {metric.name}, so no slice could be judged.",
            details={"reason": "no_segment", "segments": segments, "plot": plot},
        )
    worst = min(judged, key=lambda s: float(s["value"]))
    if failing:
        named = "; ".join(f"{s['column']}={s['segment']}: {fmt(s['value'])}" for s in failing)
        explanation = (
            f"{len(failing)} of {len(judged)} segments have {metric.name} below "
            f"{fmt(minimum)}: {named}."
        )
    else:
        explanation = (
            f"All {len(judged)} segments of {', '.join(columns)} have {metric.name} at least "
            f"{fmt(minimum)} (worst {worst['column']}={worst['segment']}: "
            f"{fmt(worst['value'])})."
        )
    skipped = len(segments) - len(judged)
    if skipped:
        explanation += f" {skipped} segment(s) under {min_rows} rows or undefined were skipped."
    return Outcome(
        passed=not failing,
        value=float(worst["value"]),
        threshold=minimum,
        explanation=explanation,
        details={"metric": metric.name, "segments": segments, "plot": plot},
    )


def fairness(
    frame: pd.DataFrame,
    scored: Scored,
    attributes: Sequence[str],
    *,
    max_demographic_parity: float = 0.1,
    max_equal_opportunity: float = 0.1,
) -> Outcome:
    """Demographic parity and equal opportunity differences per sensitive attribute.

    Both are max-minus-min over the attribute's groups: of the positive-prediction rate, and of
    the true-positive rate. The check passes when every attribute stays within both limits.
    """
    if not attributes:
        raise ModelCheckInputError(
            "The fairness check has no sensitive attribute to evaluate.",
            hint="Declare evaluation.sensitive in conveyor.yaml or pass params.attributes.",
        )
    require_columns(frame, attributes, "sensitive attribute")
    if set(np.unique(scored.y)) - {0, 1} or set(np.unique(scored.pred)) - {0, 1}:
        raise ModelCheckInputError(
            "The fairness check needs a binary classifier; the labels are not 0/1 and no "
            "positive label maps them.",
            hint="Set evaluation.positive_label in conveyor.yaml.",
        )
    per: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for attribute in attributes:
        rates = group_rates(frame[attribute].to_numpy(), scored.y, scored.pred)
        dpd = rates.demographic_parity_difference
        eod = rates.equal_opportunity_difference
        per[attribute] = {
            "demographic_parity_difference": dpd,
            "equal_opportunity_difference": eod if finite(eod) else None,
            "positive_rate": rates.positive_rate,
            "tpr": rates.tpr,
            "counts": rates.counts,
        }
        if dpd > max_demographic_parity:
            problems.append(
                f"{attribute}: demographic parity difference {fmt(dpd)} > "
                f"{fmt(max_demographic_parity)}"
            )
        if finite(eod) and eod > max_equal_opportunity:
            problems.append(
                f"{attribute}: equal opportunity difference {fmt(eod)} > "
                f"{fmt(max_equal_opportunity)}"
            )
    worst_dpd = max(p["demographic_parity_difference"] for p in per.values())
    eods = [p["equal_opportunity_difference"] for p in per.values()]
    worst_eod = max((e for e in eods if e is not None), default=None)
    measured = (
        f"demographic parity difference {fmt(worst_dpd)} (max {fmt(max_demographic_parity)}), "
        f"equal opportunity difference {fmt(worst_eod)} (max {fmt(max_equal_opportunity)})"
    )
    explanation = (
        f"Unfair over {', '.join(attributes)}: {'; '.join(problems)}."
        if problems
        else f"Fair over {', '.join(attributes)}: {measured}."
    )
    return Outcome(
        passed=not problems,
        value={
            "demographic_parity_difference": worst_dpd,
            "equal_opportunity_difference": worst_eod,
        },
        threshold={
            "demographic_parity_difference": max_demographic_parity,
            "equal_opportunity_difference": max_equal_opportunity,
        },
        explanation=explanation,
        details={"attributes": per},
    )
