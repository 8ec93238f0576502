"""A window assessed partition by partition: in this process, in threads, or on Ray.

:func:`assess_partitioned` gives the report body :func:`assess_window` gives, without ever
holding the window in memory: every Parquet partition of the window is summarised on its
own (:mod:`._parts`) and the summaries are merged as they arrive (:mod:`._summarise`, in
this process, in threads or on Ray); the drift tests run on the merged summaries. Memory
is bounded by the partitions in flight (two per worker), the sketches (a few kilobytes per
feature, plus the distinct categories) and the labelled rows.

Against the single-pass engine: row counts, missingness, out-of-range shares, unseen
categories and the verdicts of KS, chi-square, Jensen-Shannon and PSI are computed from
exact counts and agree (up to floating-point summation order); Wasserstein reads the
window's quantiles from a sketch with 0.1 % relative error (see :mod:`._sketch`); the
prediction column's profile (the baseline of later reports) has exact counts, extremes,
mean, standard deviation and top values, and quantiles and histogram counts read from the
same sketch.

``monitoring.executor`` chooses the engine of :func:`monitor_run`: ``local`` keeps the
single-pass engine (the whole window as one frame); ``threads`` and ``ray`` use this one
for duration windows (a row-count window needs the newest rows first, so it is read whole).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.monitoring._assess import assess_performance, conclude
from conveyor.monitoring._base import FeatureWindow
from conveyor.monitoring._drift import judge_drift, parse_feature_settings
from conveyor.monitoring._features import (
    ColumnSummary,
    categorical_summary,
    column_kind,
    numeric_summary,
    reference_fields,
    temporal_summary,
)
from conveyor.monitoring._parts import (
    INPUT_PREFIX,
    PREDICTION,
    ColumnPart,
    ColumnPlan,
    WindowPart,
    plan_column,
    reference_points,
)
from conveyor.monitoring._reference import (
    CategoricalReference,
    NumericReference,
    reference_from_profile,
)
from conveyor.monitoring._sketch import NumericSketch

if TYPE_CHECKING:
    from conveyor.config import MonitoringConfig

#: Probabilities of the profile quantiles (as :func:`conveyor.data.compute_profile`).
_PROFILE_QUANTILES = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.5,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
_TOP_VALUES = 20
_BINS = 20


def plan_window(
    profile: Mapping[str, Any],
    features: Sequence[str] | None,
    prediction_reference: Mapping[str, Any] | None,
) -> dict[str, ColumnPlan]:
    """Plans of the features (default: every profile column) and of ``prediction``."""
    columns: dict[str, Any] = dict(profile.get("columns") or {})
    names = list(features) if features is not None else list(columns)
    plans = {name: plan_column(INPUT_PREFIX + name, columns.get(name)) for name in names}
    reference = None if prediction_reference is None else dict(prediction_reference)
    plans[PREDICTION] = replace(plan_column(PREDICTION, reference), probe=False)
    return plans


def assess_partitioned(
    part: WindowPart,
    profile: Mapping[str, Any],
    *,
    features: Sequence[str] | None = None,
    config: MonitoringConfig | None = None,
    reference_metric: float | None = None,
    tolerance: float = 0.02,
    prediction_reference: Mapping[str, Any] | None = None,
    missing_reference: str | None = None,
) -> dict[str, Any]:
    """The report body of a merged window summary (as :func:`assess_window` returns it).

    Args:
        part: The merged summary of the window's partitions (see :func:`summarise_window`,
            planned with :func:`plan_window` and the same ``features``).
        profile: The training dataset's profile.
        features: The model's input features (default: the profile's columns present).
        config: The ``monitoring`` configuration section.
        reference_metric: The model's own value of the metric.
        tolerance: How far below the reference metric counts as degraded.
        prediction_reference: A profile column of earlier predictions.
        missing_reference: Why there is no ``reference_metric``.

    Returns:
        ``{"verdict", "message", "rows", "labelled_rows", "drift", "quality",
        "performance"}``, JSON-able.
    """
    from conveyor.config import MonitoringConfig
    from conveyor.monitoring._assess import _insufficient

    config = config or MonitoringConfig()
    if part.rows == 0:
        return _insufficient("The window holds no predictions.")
    columns: dict[str, Any] = dict(profile.get("columns") or {})
    if features is not None:
        names = list(features)
    else:
        names = [c for c in columns if c in part.columns and part.columns[c].present]
    summaries = {
        name: finish_column(name, part.columns.get(name, ColumnPart()), columns.get(name))
        for name in names
    }
    expected = set(names)
    present = [n for n, c in part.columns.items() if n != PREDICTION and c.present]
    unexpected = sorted({*(n for n in present if n not in expected), *part.other_inputs} - expected)
    drift, quality = judge_drift(
        summaries,
        profile,
        settings=parse_feature_settings(config.features),
        drift_share=config.drift_share,
        p_value=config.p_value,
        unexpected=unexpected,
    )
    drift["prediction"] = _prediction_drift(
        part.columns.get(PREDICTION, ColumnPart()), prediction_reference, config.p_value
    )
    performance = assess_performance(
        _labelled_frame(part.labelled),
        metric=config.metric or "accuracy",
        reference=reference_metric,
        tolerance=tolerance,
    )
    return conclude(
        part.rows,
        drift,
        quality,
        performance,
        config=config,
        reference_metric=reference_metric,
        missing_reference=missing_reference,
    )


def finish_column(
    feature: str, part: ColumnPart, profile_column: dict[str, Any] | None
) -> ColumnSummary:
    """The summary one pass over the whole column would give, from its merged part."""
    ref_kind = None if profile_column is None else profile_column.get("kind")
    base = reference_fields(profile_column)
    if not part.present:
        return ColumnSummary(feature, "missing", {**base, "message": "not in the window"})
    kinds = [k for k in part.kinds if k != "null"]
    if part.error is not None or len(set(kinds)) > 1:
        reason = part.error or f"partitions hold {', '.join(part.types)}"
        message = f"values of mixed or unsupported types ({reason})"
        return ColumnSummary(feature, "type_mismatch", {**base, "message": message})
    kind = kinds[0] if kinds else "null"
    quality = {
        **base,
        "window_type": _window_type(part.types),
        "missing_share": part.missing / part.rows if part.rows else None,
    }
    if ref_kind == "temporal" and profile_column is not None:
        return temporal_summary(feature, dict(part.temporal), profile_column, quality)
    reference = None if profile_column is None else reference_from_profile(profile_column)
    if reference is None or ref_kind is None:
        return ColumnSummary(feature, "no_reference", quality)
    if kind not in (ref_kind, "null"):
        quality["message"] = (
            f"window type {quality['window_type']} ({kind}) differs from the reference ({ref_kind})"
        )
        return ColumnSummary(feature, "type_mismatch", quality)
    if isinstance(reference, NumericReference):
        sketch = part.numeric or NumericSketch.of(np.zeros(0), reference_points(reference))
        return numeric_summary(feature, FeatureWindow("numeric", sketch=sketch), reference, quality)
    assert isinstance(reference, CategoricalReference)
    return categorical_summary(feature, dict(part.counts), reference, quality)


def _window_type(types: Sequence[str]) -> str:
    """The Arrow type of the concatenated column, as pandas concatenation would give it."""
    import pyarrow as pa

    known = [t for t in types if t != "null"]
    if not known:
        return "null"
    if len(set(known)) == 1:
        return known[0]
    parsed = [pa.type_for_alias(t) for t in known if _is_alias(t)]
    if parsed and all(column_kind(t) == "numeric" for t in parsed):
        return "double"
    return known[0]


def _is_alias(name: str) -> bool:
    import pyarrow as pa

    try:
        pa.type_for_alias(name)
    except ValueError:
        return False
    return True


def _labelled_frame(rows: list[tuple[Any, ...]]) -> Any:
    import pandas as pd

    ordered = sorted(rows, key=lambda row: (row[0], row[1]))
    return pd.DataFrame(
        {
            "at": [row[0] for row in ordered],
            "prediction": pd.Series([row[2] for row in ordered], dtype=object),
            "label": pd.Series([row[3] for row in ordered], dtype=object),
        }
    )


def _prediction_drift(
    part: ColumnPart, reference: Mapping[str, Any] | None, p_value: float
) -> dict[str, Any]:
    """As the single-pass engine's: the predictions' profile and their drift, if referenced."""
    if not part.present or part.error is not None or len(set(part.kinds) - {"null"}) > 1:
        message = part.error or "prediction values of several types"
        return {"status": "unsupported", "message": f"predictions are not tabular: {message}"}
    column = prediction_profile(part)
    if reference is None:
        return {"status": "no_reference", "profile": column}
    summary = finish_column(PREDICTION, part, dict(reference))
    drift, _ = judge_drift(
        {PREDICTION: summary}, {"columns": {PREDICTION: dict(reference)}}, p_value=p_value
    )
    result = drift["features"].get(PREDICTION)
    if result is None:
        return {"status": "untested", "profile": column}
    return {"status": "tested", **result, "profile": column}


def prediction_profile(part: ColumnPart) -> dict[str, Any]:
    """A profile entry (as :func:`conveyor.data.compute_profile` writes) from a merged part."""
    kinds = [k for k in part.kinds if k != "null"]
    kind = kinds[0] if kinds else "other"
    rows = part.rows
    sketch = part.numeric
    nulls = part.nulls
    # NaN is missing for the drift tests but a non-null, non-finite value in a profile.
    non_finite = rows - nulls - (sketch.count if sketch is not None else 0)
    out: dict[str, Any] = {
        "type": _window_type(part.types),
        "count": rows - nulls,
        "nulls": nulls,
        "null_share": nulls / rows if rows else None,
        "kind": kind,
    }
    if kind == "numeric":
        out.update(_numeric_profile(sketch, non_finite))
    elif kind in ("categorical", "boolean"):
        out.update(_top_values(part.counts, rows - nulls), distinct_exact=True)
    return out


def _numeric_profile(sketch: NumericSketch | None, non_finite: int) -> dict[str, Any]:
    """Profile statistics of numbers: exact from value counts when there are few distinct
    values (a classifier's classes), else read from the sketch."""
    out: dict[str, Any] = {"non_finite": non_finite}
    if sketch is None or sketch.count == 0:
        out.update(distinct=0, distinct_exact=True)
        out.update(min=None, max=None, mean=None, std=None, quantiles=None, histogram=None)
        return out
    probs = np.array(list(_PROFILE_QUANTILES.values()))
    lo, hi = sketch.min, sketch.max
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, _BINS + 1)
    quantiles = sketch.quantiles(probs)
    below = sketch.rank(edges[1:-1], "left")
    exact = sketch.distinct is not None
    out.update(distinct=None if sketch.distinct is None else int(sketch.distinct.size))
    out.update(distinct_exact=exact)
    counts = np.diff(np.concatenate(([0], below, [sketch.count])))
    out.update(
        min=sketch.min,
        max=sketch.max,
        mean=sketch.mean,
        std=sketch.std,
        quantiles={key: float(v) for key, v in zip(_PROFILE_QUANTILES, quantiles, strict=True)},
        histogram={"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
    )
    return out


def _top_values(counts: Mapping[Any, int], non_null: int) -> dict[str, Any]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:_TOP_VALUES]
    entries = [
        {"value": value, "count": int(count), "share": int(count) / non_null}
        for value, count in ordered
    ]
    shown = sum(entry["count"] for entry in entries)
    return {"distinct": len(counts), "top": entries, "other": non_null - shown}
