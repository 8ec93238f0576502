"""Comparing two runs: which parameters differ, metric deltas, and metric histories.

:meth:`RunTracker.compare <conveyor.tracking.RunTracker.compare>` gathers the values;
:func:`compare_runs` lines them up, so ``conveyor runs compare`` (and anyone else) only
formats a :class:`RunComparison`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.tracking._records import MetricPoint, Run


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class MetricComparison:
    """The latest value of one metric in each of two runs.

    Attributes:
        first: The first run's value, ``None`` when it has none (or it is NaN or infinite).
        second: The second run's value, likewise.
    """

    first: float | None
    second: float | None

    @property
    def delta(self) -> float | None:
        """``second - first``, or ``None`` unless both runs have a finite value."""
        if self.first is None or self.second is None:
            return None
        return self.second - self.first

    def to_dict(self) -> dict[str, float | None]:
        """``{"a": first, "b": second, "delta": delta}``."""
        return {"a": self.first, "b": self.second, "delta": self.delta}


@dataclass(frozen=True)
class RunComparison:
    """Two runs side by side (built by :meth:`~conveyor.tracking.RunTracker.compare`).

    Attributes:
        runs: The first and the second run.
        params: Every parameter of either run, sorted by name: ``(first, second)`` values,
            ``None`` where a run does not have it.
        metrics: Every metric key of either run tree, sorted: the latest values.
        history: For each run, every value of each metric key in logged order.
    """

    runs: tuple[Run, Run]
    params: Mapping[str, tuple[Any, Any]]
    metrics: Mapping[str, MetricComparison]
    history: tuple[Mapping[str, list[MetricPoint]], Mapping[str, list[MetricPoint]]]

    @property
    def changed_params(self) -> list[str]:
        """The parameters whose values differ (missing in one run counts), sorted."""
        return [key for key, (a, b) in self.params.items() if a != b]

    @property
    def shared_metrics(self) -> list[str]:
        """The metric keys both runs logged, sorted (the ones worth charting together)."""
        return sorted(set(self.history[0]) & set(self.history[1]))

    def series(self, key: str) -> tuple[list[tuple[int, float | None]], ...]:
        """Each run's ``(x, value)`` points of one metric, for a chart.

        ``x`` is the metric's step, or the value's position when it was logged without a
        step; NaN and infinite values are ``None`` (a gap). A run that did not log ``key``
        has no points.
        """
        return tuple(
            [
                (point.step if point.step is not None else index, _finite(point.value))
                for index, point in enumerate(history.get(key, ()))
            ]
            for history in self.history
        )

    def by_step(self, key: str) -> list[tuple[int, float | None, float | None]]:
        """One metric's values in both runs, aligned by step: ``(step, first, second)``.

        Steps are those of :meth:`series`, sorted; a run with no value at a step (or a
        NaN or infinite one) has ``None``. When a run logged a step twice, its last value
        counts.
        """
        first, second = (dict(points) for points in self.series(key))
        return [(step, first.get(step), second.get(step)) for step in sorted(first | second)]

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON dict: ``runs``, ``params`` (``[first, second]``), ``metrics``
        (``{"a", "b", "delta"}``) and ``history`` (by run id, points as
        :meth:`MetricPoint.to_dict <conveyor.tracking.MetricPoint.to_dict>`)."""
        return {
            "runs": [run.to_dict() for run in self.runs],
            "params": {key: list(values) for key, values in self.params.items()},
            "metrics": {key: m.to_dict() for key, m in self.metrics.items()},
            "history": {
                run.id: {key: [p.to_dict() for p in points] for key, points in history.items()}
                for run, history in zip(self.runs, self.history, strict=True)
            },
        }


def compare_runs(
    runs: tuple[Run, Run],
    *,
    latest: Sequence[Mapping[str, float]],
    history: Sequence[Mapping[str, list[MetricPoint]]],
) -> RunComparison:
    """Line two runs up.

    Args:
        runs: The first and the second run.
        latest: Each run's latest value per metric key (NaN and infinities as logged).
        history: Each run's values per metric key, in logged order.

    Returns:
        The comparison; its mappings are sorted by key.
    """
    first, second = runs
    keys = sorted(set(first.params) | set(second.params))
    params = {key: (first.params.get(key), second.params.get(key)) for key in keys}
    metrics = {
        key: MetricComparison(_finite(latest[0].get(key)), _finite(latest[1].get(key)))
        for key in sorted(set(latest[0]) | set(latest[1]))
    }
    return RunComparison(
        runs=(first, second),
        params=params,
        metrics=metrics,
        history=(dict(sorted(history[0].items())), dict(sorted(history[1].items()))),
    )
