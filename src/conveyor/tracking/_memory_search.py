"""The reference search over runs held in memory: :func:`search_run_list`.

What :meth:`~conveyor.tracking.BaseRunRecords.search_runs` answers, computed over plain
lists of runs and metric points, for backends that keep every run in memory (and tests).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from conveyor.tracking._records import MetricFilter, MetricPoint, Run, RunPage, parse_run_sort


def search_run_list(
    runs: Iterable[Run],
    metrics: Mapping[str, Sequence[MetricPoint]],
    *,
    kinds: Collection[str] | None = None,
    status: str | None = None,
    name_contains: str | None = None,
    pipeline_ref: str | None = None,
    parent_ids: Collection[str] | None = None,
    sort: str = "started_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 50,
    where: Sequence[MetricFilter] = (),
    top_level: bool = False,
) -> RunPage:
    """:meth:`~conveyor.tracking.BaseRunRecords.search_runs` over runs in memory (the reference).

    For backends that keep every run in memory (and tests): ``runs`` are all the runs,
    ``metrics`` every run's points in logged order. Where a run and its steps both
    logged a metric, the point logged at the latest time counts.
    """
    by, key = parse_run_sort(sort)
    every = list(runs)
    wanted = [
        run
        for run in every
        if (kinds is None or run.kind in kinds)
        and (status is None or run.status == status)
        and (not name_contains or name_contains.lower() in run.name.lower())
        and (pipeline_ref is None or run.pipeline_ref == pipeline_ref)
        and (parent_ids is None or run.parent_id in parent_ids)
        and (not top_level or run.parent_id is None)
    ]
    for test in where:
        tested = _tree_values(every, metrics, test.key)
        wanted = [run for run in wanted if test.matches(tested.get(run.id))]
    keys: list[Callable[[Run], Any]]
    if by == "metric":
        values = _tree_values(every, metrics, str(key))
        keys = [lambda run: values.get(run.id)]
    elif by == "param":
        keys = [
            lambda run: _param_number(run.params.get(str(key))),
            lambda run: _param_text(run.params.get(str(key))),
        ]
    else:
        column = {"started_at": "started_at", "name": "name", "status": "status"}.get(by, "wall_s")
        keys = [lambda run: getattr(run, column)]
    if by != "started_at":
        keys.append(lambda run: run.started_at)
    ordered = sorted(wanted, key=lambda run: run.id)
    for key_of in reversed(keys):  # least significant first: sorts are stable
        present = [run for run in ordered if key_of(run) is not None]
        missing = [run for run in ordered if key_of(run) is None]
        ordered = sorted(present, key=key_of, reverse=descending) + missing
    offset, limit = max(offset, 0), max(limit, 0)
    return RunPage(ordered[offset : offset + limit], len(wanted), offset, limit)


def _tree_values(
    runs: Sequence[Run], metrics: Mapping[str, Sequence[MetricPoint]], key: str
) -> dict[str, float]:
    sources: dict[str, list[str]] = {run.id: [run.id] for run in runs}
    for run in runs:
        if run.kind == "step" and run.parent_id in sources:
            sources[run.parent_id].append(run.cached_from or run.id)
    values: dict[str, float] = {}
    for run_id, ids in sources.items():
        points = [p for source in ids for p in metrics.get(source, ()) if p.key == key]
        if points:
            last = max(reversed(points), key=lambda p: p.at)
            if not math.isnan(last.value):
                values[run_id] = last.value
    return values


def _param_number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _param_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)
