"""Judgements on logged and recorded metrics: loss decreases, over-fitting gap, minimum metric.

Each function takes plain numbers (a logged series, recorded values) and returns an
:class:`Outcome`; a NaN or missing metric is a failed outcome that says so, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.checks.model._inputs import Outcome, finite, fmt


def missing_metric(name: str, available: Sequence[str], where: str) -> Outcome:
    """A failed outcome for a metric that was never recorded."""
    listed = ", ".join(sorted(available)) or "none"
    return Outcome(
        passed=False,
        value=None,
        threshold=None,
        explanation=f"Metric {name!r} is missing from the {where}; recorded metrics: {listed}.",
        details={"reason": "missing", "metric": name, "available": sorted(available)},
    )


def nan_metric(name: str, where: str) -> Outcome:
    """A failed outcome for a metric whose value is NaN (or not a number)."""
    return Outcome(
        passed=False,
        value=None,
        threshold=None,
        explanation=f"Metric {name!r} in the {where} is NaN, so it cannot meet any threshold.",
        details={"reason": "nan", "metric": name},
    )


def loss_decreases(
    name: str, series: Sequence[float], *, window: int = 1, min_relative_decrease: float = 0.0
) -> Outcome:
    """Whether a logged series went down from its start to its end.

    The mean of the last ``window`` values must be below the mean of the first ``window``
    values by more than ``min_relative_decrease`` x |start|.
    """
    if len(series) < 2:
        return Outcome(
            passed=False,
            value=None,
            threshold=min_relative_decrease,
            explanation=f"Metric {name!r} was logged {len(series)} time(s); at least 2 values "
            "are needed to see it decrease.",
            details={"reason": "too_short", "metric": name, "points": len(series)},
        )
    bad = [i for i, v in enumerate(series) if not finite(v)]
    if bad:
        return Outcome(
            passed=False,
            value=None,
            threshold=min_relative_decrease,
            explanation=f"Metric {name!r} has NaN values at logged positions {bad[:5]}: "
            "training diverged or logged an undefined value.",
            details={"reason": "nan", "metric": name, "positions": bad, "series": _clean(series)},
        )
    w = max(1, min(window, len(series) // 2))
    start = sum(series[:w]) / w
    end = sum(series[-w:]) / w
    relative = (start - end) / abs(start) if start else float(end < start)
    passed = end < start and relative > min_relative_decrease
    verdict = "decreased" if end < start else "did not decrease"
    return Outcome(
        passed=passed,
        value=relative,
        threshold=min_relative_decrease,
        explanation=f"Metric {name!r} {verdict} from {fmt(start)} to {fmt(end)} over "
        f"{len(series)} logged values (relative decrease {fmt(relative)}; required more than "
        f"{fmt(min_relative_decrease)}).",
        details={
            "metric": name,
            "start": start,
            "end": end,
            "plot": {"kind": "line", "y": list(map(float, series)), "title": name},
        },
    )


def overfitting(
    metrics: Mapping[str, Any],
    *,
    train_metric: str,
    validation_metric: str,
    max_gap: float,
    higher_is_better: bool = True,
    where: str = "run",
) -> Outcome:
    """Whether the train-minus-validation gap stays within ``max_gap``."""
    for name in (train_metric, validation_metric):
        if name not in metrics:
            return missing_metric(name, list(metrics), where)
        if not finite(metrics[name]):
            return nan_metric(name, where)
    train = float(metrics[train_metric])
    valid = float(metrics[validation_metric])
    gap = train - valid if higher_is_better else valid - train
    return Outcome(
        passed=gap <= max_gap,
        value=gap,
        threshold=max_gap,
        explanation=f"Training {train_metric} {fmt(train)} vs validation {validation_metric} "
        f"{fmt(valid)}: gap {fmt(gap)} (allowed at most {fmt(max_gap)}).",
        details={"train": train, "validation": valid},
    )


def metric_bounds(
    name: str, value: Any, *, minimum: float | None, maximum: float | None, where: str
) -> Outcome:
    """Whether a metric lies within ``[minimum, maximum]`` (either bound optional)."""
    if not finite(value):
        return nan_metric(name, where)
    v = float(value)
    ok = (minimum is None or v >= minimum) and (maximum is None or v <= maximum)
    wanted = " and ".join(
        part
        for part in (
            None if minimum is None else f"at least {fmt(minimum)}",
            None if maximum is None else f"at most {fmt(maximum)}",
        )
        if part
    )
    threshold: dict[str, float] = {}
    if minimum is not None:
        threshold["min"] = minimum
    if maximum is not None:
        threshold["max"] = maximum
    return Outcome(
        passed=ok,
        value=v,
        threshold=threshold,
        explanation=f"{name} on the {where} is {fmt(v)} (required {wanted}).",
        details={"metric": name, "source": where},
    )


def _clean(series: Sequence[float]) -> list[float | None]:
    return [float(v) if finite(v) else None for v in series]
