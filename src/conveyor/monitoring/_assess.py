"""One window assessed end to end, without any store: drift, quality, performance, verdict.

:func:`assess_window` takes the prediction log's frame (``in_<feature>`` input columns,
``prediction``, ``label``, ``at``) and the training profile, and returns the body of a
monitoring report. Verdicts, most severe first: ``insufficient`` (nothing to judge),
``degraded`` (performance significantly below the model's own, or a concept change that
made errors worse), ``drift`` (the share of drifted features reached ``drift_share``),
``ok``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.config import MonitoringConfig
from conveyor.monitoring._concept import detect_changes
from conveyor.monitoring._drift import assess_drift, parse_feature_settings
from conveyor.monitoring._performance import (
    is_degraded,
    losses,
    metric_series,
    metric_spec,
    metric_with_ci,
)

if TYPE_CHECKING:
    import pandas as pd

INPUT_PREFIX = "in_"
VERDICTS = ("ok", "drift", "degraded", "insufficient")


def window_inputs(log: pd.DataFrame) -> pd.DataFrame:
    """The model inputs of a prediction-log frame, under their feature names."""
    columns = [c for c in log.columns if str(c).startswith(INPUT_PREFIX)]
    return log[columns].rename(columns=lambda c: str(c)[len(INPUT_PREFIX) :])


def assess_window(
    log: pd.DataFrame,
    profile: Mapping[str, Any],
    *,
    features: Sequence[str] | None = None,
    config: MonitoringConfig | None = None,
    reference_metric: float | None = None,
    tolerance: float = 0.02,
    prediction_reference: Mapping[str, Any] | None = None,
    missing_reference: str | None = None,
) -> dict[str, Any]:
    """Assess a window of logged predictions against the training profile.

    Args:
        log: Rows of the prediction log (see :meth:`PredictionLog.read`); failed
            predictions (``status == "error"``) are left out.
        profile: The training dataset's profile (the drift reference).
        features: The model's input features (default: the profile's columns present).
        config: The ``monitoring`` configuration section.
        reference_metric: The model's own value of the metric (from registration), which
            the live metric is compared with.
        tolerance: How far below the reference metric counts as degraded.
        prediction_reference: A profile column of earlier predictions, for prediction drift.
        missing_reference: Why there is no ``reference_metric`` (e.g. "churn@3 records no
            accuracy"); appended to the verdict's message, since performance then cannot
            be judged ``degraded`` against the model's own.

    Returns:
        ``{"verdict", "message", "rows", "labelled_rows", "drift", "quality",
        "performance"}``, JSON-able.
    """
    config = config or MonitoringConfig()
    if "status" in log.columns:
        log = log[log["status"].fillna("ok") == "ok"]
    rows = len(log)
    if rows == 0:
        return _insufficient("The window holds no predictions.")
    drift, quality = assess_drift(
        window_inputs(log),
        profile,
        features=features,
        settings=parse_feature_settings(config.features),
        drift_share=config.drift_share,
        p_value=config.p_value,
    )
    drift["prediction"] = _prediction_drift(log, prediction_reference, config.p_value)
    performance = assess_performance(
        log, metric=config.metric or "accuracy", reference=reference_metric, tolerance=tolerance
    )
    return conclude(
        rows,
        drift,
        quality,
        performance,
        config=config,
        reference_metric=reference_metric,
        missing_reference=missing_reference,
    )


def conclude(
    rows: int,
    drift: dict[str, Any],
    quality: dict[str, Any],
    performance: dict[str, Any],
    *,
    config: MonitoringConfig,
    reference_metric: float | None,
    missing_reference: str | None,
) -> dict[str, Any]:
    """The verdict and message of an assessed window, and the report body around them.

    Args:
        rows: Successful predictions in the window.
        drift: Feature drift (with ``prediction``), as :func:`assess_drift` returns it.
        quality: Data quality, as :func:`assess_drift` returns it.
        performance: Labelled performance, as :func:`assess_performance` returns it.
        config: The ``monitoring`` configuration section.
        reference_metric: The model's own value of the metric.
        missing_reference: Why there is no ``reference_metric``.

    Returns:
        The report body :func:`assess_window` returns.
    """
    labelled = int(performance["labels"])
    enough = labelled >= config.min_labels
    performance["enough_labels"] = enough
    if drift["tested"] == 0:
        verdict = "insufficient"
        problems = ", ".join(f"{n} ({quality['columns'][n]['status']})" for n in quality["issues"])
        message = f"No feature could be tested: {problems or 'no features'}."
    elif enough and (performance["degraded"] or performance["concept_drift"]):
        verdict = "degraded"
        message = _degraded_message(performance)
    elif drift["dataset_drift"]:
        verdict = "drift"
        message = (
            f"{len(drift['drifted'])} of {drift['tested']} features drifted: "
            f"{', '.join(drift['drifted'])}."
        )
    else:
        verdict = "ok"
        message = f"{len(drift['drifted'])} of {drift['tested']} features drifted."
    if reference_metric is None and (missing_reference or labelled):
        why = missing_reference or "no reference metric given"
        performance["reference_missing"] = why
        message += f" Degradation not judged: {why}."
    return {
        "verdict": verdict,
        "message": message,
        "rows": rows,
        "labelled_rows": labelled,
        "drift": drift,
        "quality": quality,
        "performance": performance,
    }


def _degraded_message(performance: Mapping[str, Any]) -> str:
    metric, labels = performance["metric"], performance["labels"]
    parts = []
    if performance["degraded"]:
        lo, hi = performance["ci"]
        parts.append(
            f"{metric} {performance['value']:.3f} (95% CI {lo:.3f}-{hi:.3f}, {labels} labels) "
            f"is below the recorded {performance['reference']:.3f} by more than "
            f"{performance['tolerance']:g}"
        )
    if performance["concept_drift"]:
        found = [name for name, entry in performance["changes"].items() if entry["worse"]]
        parts.append(f"errors rose after a change point ({', '.join(found)}, {labels} labels)")
    return "; ".join(parts).capitalize() + "."


def assess_performance(
    log: pd.DataFrame, *, metric: str, reference: float | None, tolerance: float
) -> dict[str, Any]:
    """The metric over labelled rows, its series over time, and concept-drift detections."""
    spec = metric_spec(metric)
    labelled = log[log["label"].notna()] if "label" in log.columns else log.iloc[0:0]
    row_losses = losses(labelled["prediction"].tolist(), labelled["label"].tolist(), spec)
    measured = metric_with_ci(row_losses, spec)
    times = labelled["at"].tolist() if "at" in labelled.columns else list(range(len(labelled)))
    changes = detect_changes(row_losses) if row_losses.size else {}
    concept = _concept_summary(changes, row_losses, times)
    return {
        **measured,
        "reference": reference,
        "tolerance": tolerance,
        "degraded": is_degraded(measured, spec, reference, tolerance),
        "series": metric_series(times, row_losses, spec),
        "changes": concept,
        "concept_drift": any(entry["worse"] for entry in concept.values()),
    }


def _concept_summary(
    changes: Mapping[str, list[int]], row_losses: np.ndarray[Any, Any], times: Sequence[Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, indexes in changes.items():
        last = indexes[-1] if indexes else None
        worse = False
        if last is not None and 0 < last < row_losses.size:
            # Only a change after which errors are higher is a degradation.
            worse = bool(row_losses[last:].mean() > row_losses[:last].mean())
        out[name] = {
            "detections": list(indexes),
            "at": [str(times[i]) for i in indexes],
            "worse": worse,
        }
    return out


def _prediction_drift(
    log: pd.DataFrame, reference: Mapping[str, Any] | None, p_value: float
) -> dict[str, Any]:
    """Drift of the prediction column against earlier predictions, plus its own profile."""
    import pyarrow as pa

    from conveyor.data import compute_profile

    frame = log[["prediction"]]
    try:
        profile = compute_profile(pa.Table.from_pandas(frame, preserve_index=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        return {"status": "unsupported", "message": f"predictions are not tabular: {exc}"}
    column = profile["columns"]["prediction"]
    if reference is None:
        return {"status": "no_reference", "profile": column}
    drift, _ = assess_drift(
        frame,
        {"columns": {"prediction": dict(reference)}},
        features=["prediction"],
        p_value=p_value,
    )
    result = drift["features"].get("prediction")
    if result is None:
        return {"status": "untested", "profile": column}
    return {"status": "tested", **result, "profile": column}


def _insufficient(message: str) -> dict[str, Any]:
    return {
        "verdict": "insufficient",
        "message": message,
        "rows": 0,
        "labelled_rows": 0,
        "drift": {"features": {}, "tested": 0, "drifted": [], "share": 0.0, "dataset_drift": False},
        "quality": {"columns": {}, "issues": [], "unexpected_columns": []},
        "performance": {"labels": 0, "value": None, "ci": None, "degraded": False},
    }
