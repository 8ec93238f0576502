"""The runs pages of the web UI.

``/runs`` pages through the top-level runs (pipelines and tuning studies) with their
parameters and latest metrics as columns, filtered, sorted and counted by the run records
(:meth:`~conveyor.tracking.BaseRunRecords.search_runs`), so a page costs the same with ten
runs or ten thousand. ``/runs/{id}`` shows one run: parameters, metrics and their
history, the step graph of a pipeline run, code version, environment, datasets, outputs,
files, the error of a failed run, a study's trials and the parent. ``/runs/compare`` lines
2-10 runs up: parameter differences, metrics side by side and overlaid, and for a tuning
study its trials in parallel coordinates.

The table's rows and the short text of values are in :mod:`conveyor.ui._run_table`
and the charts and the step graph are drawn by :mod:`conveyor.ui._run_figures`;
:func:`tree_latest` and :func:`step_graph` stay importable from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from conveyor.errors import ConveyorError
from conveyor.tracking import RUN_STATUSES, BaseRunRecords, Run, parse_run_sort
from conveyor.ui._core import UI, PageRequest
from conveyor.ui._run_figures import line_figure, parallel_figure, step_graph, trials_figure
from conveyor.ui._run_table import MAX_STEPS, cut, short_value, table_rows
from conveyor.ui._run_table import tree_latest as tree_latest  # noqa: PLC0414 - re-exported

__all__ = ["add_pages", "step_graph", "tree_latest"]

#: Runs per page of ``/runs``.
PAGE_SIZE = 50
#: How many runs ``/runs/compare`` takes.
COMPARE_MIN, COMPARE_MAX = 2, 10
#: Kinds of top-level runs, by the filter's value.
TOP_KINDS: Mapping[str, tuple[str, ...]] = {
    "": ("pipeline", "tune"),
    "pipeline": ("pipeline",),
    "tune": ("tune",),
}
_RUN_ID = re.compile(r"[0-9a-f]{6,64}")
_MAX_CHARTS = 40


class InvalidRunQueryError(ConveyorError, ValueError):
    """A runs page was given a query parameter or run id it cannot take."""

    code = "invalid_run_query"


def add_pages(ui: UI) -> None:
    """Add the runs pages to ``ui``."""

    @ui.page("/runs", name="runs.list")
    def runs_page(page: PageRequest) -> Response:
        query = _list_query(page)
        records = page.ws.runs.records
        found = records.search_runs(
            kinds=TOP_KINDS[query["kind"] or ""],
            status=query["status"],
            name_contains=query["q"],
            pipeline_ref=query["pipeline"],
            sort=query["sort"] or "started_at",
            descending=query["order"] != "asc",
            offset=int(query["offset"] or 0),
            limit=PAGE_SIZE,
        )
        rows, param_keys, metric_keys = table_rows(records, found.runs)
        shown = {k: v for k, v in query.items() if k != "offset"}
        return ui.render(
            page,
            "runs.html.j2",
            results=found,
            rows=rows,
            param_keys=param_keys,
            metric_keys=metric_keys,
            query=shown,
            sort=query["sort"] or "started_at",
            order=query["order"] or "desc",
            statuses=sorted(RUN_STATUSES),
        )

    @ui.page("/runs/compare", name="runs.compare")
    def compare_page(page: PageRequest) -> Response:
        runs = [page.ws.runs.get(run_id) for run_id in _compare_ids(page)]
        return ui.render(page, "runs_compare.html.j2", **comparison(page, runs))

    @ui.page("/runs/{run_id}", name="runs.show")
    def run_page(page: PageRequest, run_id: str) -> Response:
        run = page.ws.runs.get(_valid_run_id(run_id))
        return ui.render(page, "run_show.html.j2", **run_details(page, run))

    @ui.page("/runs/{rest:path}", name="runs.unknown")
    def unknown_page(page: PageRequest, rest: str) -> Response:
        _valid_run_id(rest)  # refuses '../etc' and other paths
        raise LookupError(f"No page at /runs/{rest}: open a run from /runs.")


# -- /runs ---------------------------------------------------------------------------------


def _list_query(page: PageRequest) -> dict[str, str | None]:
    status = page.query("status", max_length=40)
    if status is not None and status not in RUN_STATUSES:
        raise InvalidRunQueryError(
            f"Unknown run status {status!r}.",
            hint=f"Filter by one of: {', '.join(sorted(RUN_STATUSES))}.",
            parameter="status",
        )
    kind = page.query("kind", max_length=40)
    if kind is not None and kind not in TOP_KINDS:
        raise InvalidRunQueryError(
            f"Unknown run kind {kind!r}.",
            hint="Filter by kind pipeline or tune (or leave it empty for both).",
            parameter="kind",
        )
    sort = page.query("sort", max_length=300)
    if sort is not None:
        try:
            parse_run_sort(sort)
        except ValueError as exc:
            raise InvalidRunQueryError(
                str(exc), hint="Click a column header to sort by it.", parameter="sort"
            ) from None
    order = page.query("order", max_length=10)
    if order is not None and order not in ("asc", "desc"):
        raise InvalidRunQueryError(
            f"Unknown sort order {order!r}.", hint="Use order=asc or order=desc.", parameter="order"
        )
    offset = page.query_int("offset", 0, low=0, high=10**8)
    return {
        "q": page.query("q", max_length=200),
        "status": status,
        "pipeline": page.query("pipeline", max_length=512),
        "kind": kind,
        "sort": sort,
        "order": order,
        "offset": str(offset) if offset else None,
    }


# -- /runs/{id} ----------------------------------------------------------------------------


def _valid_run_id(text: str) -> str:
    value = text.strip().lower()
    if _RUN_ID.fullmatch(value) is None:
        shown = repr(text[:40]) + ("..." if len(text) > 40 else "")
        raise InvalidRunQueryError(
            f"Invalid run id {shown}: expected 6-64 hexadecimal digits (an id or its prefix).",
            hint="Pick a run from /runs.",
            run_id=text[:80],
        )
    return value


def run_details(page: PageRequest, run: Run) -> dict[str, Any]:
    """What ``/runs/{id}`` shows about ``run``."""
    runs = page.ws.runs
    records = runs.records
    children = runs.children(run.id)
    steps = [child for child in children if child.kind == "step"]
    others = [child for child in children if child.kind != "step"]
    tree = runs.run_tree_metrics(run.id)
    history = runs.run_tree_history(run.id)
    charts = [
        (key, line_figure(key, {run.short_id: points}))
        for key, points in history.items()
        if len(points) > 1
    ][:_MAX_CHARTS]
    trials = [child for child in others if child.kind == "trial"]
    trial_metrics = records.latest_metrics([t.id for t in trials]) if trials else {}
    parent = records.get_run(run.parent_id) if run.parent_id else None
    return {
        "run": run,
        "parent": parent,
        "params": {key: short_value(value, 400) for key, value in sorted(run.params.items())},
        "metrics": tree,
        "charts": charts,
        "steps": steps,
        "graph": step_graph(steps) if steps else None,
        "children": others,
        "trials": trials,
        "trial_objective": {t.id: trial_metrics.get(t.id, {}).get("objective") for t in trials},
        "trials_figure": trials_figure(trials, trial_metrics) if len(trials) >= 2 else None,
        "parallel": parallel_figure(trials, trial_metrics) if len(trials) >= 2 else None,
        "trial_params": sorted({key for t in trials for key in t.params}),
        "datasets": records.datasets(run.id),
        "outputs": runs.outputs(run.id),
        "artifacts": records.artifacts(run.id),
        "cached_from": records.get_run(run.cached_from) if run.cached_from else None,
    }


# -- /runs/compare -------------------------------------------------------------------------


def _compare_ids(page: PageRequest) -> list[str]:
    values = page.request.query_params.getlist("ids")
    raw = ",".join(values)
    if len(raw) > 1000:
        raise InvalidRunQueryError(
            f"ids is {len(raw)} characters long; compare takes at most {COMPARE_MAX} ids.",
            hint="Pick fewer runs.",
            parameter="ids",
        )
    parts = [part.strip() for value in values for part in value.split(",") if part.strip()]
    ids = list(dict.fromkeys(_valid_run_id(part) for part in parts))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        raise InvalidRunQueryError(
            f"ids={raw[:200]!r} names {len(ids)} different run(s); compare takes "
            f"{COMPARE_MIN} to {COMPARE_MAX}.",
            hint="Tick 2-10 runs on /runs and press Compare, or pass ids=FIRST,SECOND.",
            parameter="ids",
        )
    return ids


def comparison(page: PageRequest, runs: Sequence[Run]) -> dict[str, Any]:
    """What ``/runs/compare`` shows about ``runs``."""
    tracker = page.ws.runs
    records = tracker.records
    labels = {run.id: f"{run.short_id} {cut(run.name, 30)}" for run in runs}
    param_keys = sorted({key for run in runs for key in run.params})
    params = []
    for key in param_keys:
        values = [short_value(run.params[key], 200) if key in run.params else "" for run in runs]
        params.append((key, values, len(set(values)) > 1))
    metrics = {run.id: tracker.run_tree_metrics(run.id) for run in runs}
    metric_keys = sorted({key for found in metrics.values() for key in found})
    histories = {run.id: tracker.run_tree_history(run.id) for run in runs}
    charts = []
    for key in metric_keys[:_MAX_CHARTS]:
        series = {labels[run.id]: histories[run.id].get(key, []) for run in runs}
        charts.append((key, line_figure(key, series)))
    trials = _study_trials(records, runs)
    parallel = None
    if trials:
        latest = records.latest_metrics([t.id for t in trials])
        parallel = parallel_figure(trials, latest)
    return {
        "runs": runs,
        "labels": labels,
        "params": params,
        "metric_keys": metric_keys,
        "metrics": metrics,
        "charts": charts,
        "parallel": parallel,
        "trial_count": len(trials),
    }


def _study_trials(records: BaseRunRecords, runs: Sequence[Run]) -> list[Run]:
    """The trials to draw: those of the first study compared, or the runs themselves
    when every one is a trial of the same study."""
    studies = [run for run in runs if run.kind == "tune"]
    if studies:
        found = records.search_runs(
            parent_ids=[studies[0].id],
            kinds=["trial"],
            limit=MAX_STEPS,
            sort="started_at",
            descending=False,
        )
        return found.runs
    parents = {run.parent_id for run in runs}
    if all(run.kind == "trial" for run in runs) and len(parents) == 1:
        return list(runs)
    return []
