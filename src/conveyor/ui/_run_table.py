"""The ``/runs`` table: its rows, their parameter and metric columns, and short text of values.

:func:`table_rows` reads a page's rows in a fixed number of queries, whatever the page
holds. :func:`short_value` and :func:`cut` shorten the text every runs page shows: the
table's cells, a run's parameters, the compare page's labels and the figures' tick labels.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.tracking import BaseRunRecords, MetricPoint, Run

__all__ = ["MAX_STEPS", "RunRow", "cut", "short_value", "table_rows", "tree_latest"]

#: The most parameter and metric columns ``/runs`` shows (the most common first).
MAX_COLUMNS = 12
#: Child runs one query of the runs pages reads at most (a page's steps, a study's trials).
MAX_STEPS = 5000


@dataclass(frozen=True)
class RunRow:
    """One row of ``/runs``: the run, its shown parameters and latest metrics."""

    run: Run
    params: dict[str, str]
    metrics: dict[str, float]


def tree_latest(
    runs: Sequence[Run], steps: Iterable[Run], latest: Mapping[str, Mapping[str, MetricPoint]]
) -> dict[str, dict[str, float]]:
    """The latest value of each metric logged by each run or its steps, by plain key.

    A cached step counts with the run whose work it reused (``cached_from``); where the
    run and several steps logged a key, the value logged last wins.
    """
    sources: dict[str, list[str]] = {run.id: [run.id] for run in runs}
    for step in steps:
        if step.parent_id in sources:
            sources[step.parent_id].append(step.cached_from or step.id)
    out: dict[str, dict[str, float]] = {}
    for run_id, ids in sources.items():
        best: dict[str, MetricPoint] = {}
        for source in ids:
            for key, point in latest.get(source, {}).items():
                if key not in best or point.at >= best[key].at:
                    best[key] = point
        out[run_id] = {key: best[key].value for key in sorted(best)}
    return out


def table_rows(
    records: BaseRunRecords, runs: Sequence[Run]
) -> tuple[list[RunRow], list[str], list[str]]:
    """The rows of ``/runs`` for ``runs`` and the parameter and metric columns to show.

    Three queries whatever the page holds: the runs' steps, and every latest metric of
    the runs and their steps.
    """
    if not runs:
        return [], [], []
    ids = [run.id for run in runs]
    steps = records.search_runs(
        parent_ids=ids, kinds=["step"], limit=MAX_STEPS, sort="started_at", descending=False
    ).runs
    sources = set(ids) | {step.cached_from or step.id for step in steps}
    latest = records.latest_metrics(sources)
    metrics = tree_latest(runs, steps, latest)
    param_count = Counter(key for run in runs for key in run.params)
    metric_count = Counter(key for run in runs for key in metrics[run.id])
    param_keys = [key for key, _ in _most_common(param_count)]
    metric_keys = [key for key, _ in _most_common(metric_count)]
    rows = [
        RunRow(
            run,
            {k: short_value(run.params[k]) for k in param_keys if k in run.params},
            metrics[run.id],
        )
        for run in runs
    ]
    return rows, param_keys, metric_keys


def _most_common(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_COLUMNS]


def short_value(value: Any, limit: int = 60) -> str:
    """A parameter value as short text (JSON for lists and objects, cut at ``limit``)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = repr(value) if not math.isfinite(value) else f"{value:.6g}"
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
