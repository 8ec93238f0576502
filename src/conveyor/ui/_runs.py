"""The runs pages of the web UI.

``/runs`` pages through the top-level runs (pipelines and tuning studies) with their
parameters and latest metrics as columns, filtered, sorted and counted by the run records
(:meth:`~conveyor.tracking.BaseRunRecords.search_runs`), so a page costs the same with ten
runs or ten thousand. ``/runs/{id}`` shows one run: parameters, metrics and their
history, the step graph of a pipeline run, code version, environment, datasets, outputs,
files, the error of a failed run, a study's trials and the parent. ``/runs/compare`` lines
2-10 runs up: parameter differences, metrics side by side and overlaid, and for a tuning
study its trials in parallel coordinates.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from starlette.responses import Response

from conveyor.errors import ConveyorError
from conveyor.tracking import (
    RUN_STATUSES,
    BaseRunRecords,
    MetricPoint,
    Run,
    parse_run_sort,
)
from conveyor.ui._core import UI, PageRequest

__all__ = ["add_pages", "step_graph", "tree_latest"]

#: Runs per page of ``/runs``.
PAGE_SIZE = 50
#: The most parameter and metric columns ``/runs`` shows (the most common first).
MAX_COLUMNS = 12
#: How many runs ``/runs/compare`` takes.
COMPARE_MIN, COMPARE_MAX = 2, 10
#: Kinds of top-level runs, by the filter's value.
TOP_KINDS: Mapping[str, tuple[str, ...]] = {
    "": ("pipeline", "tune"),
    "pipeline": ("pipeline",),
    "tune": ("tune",),
}
_RUN_ID = re.compile(r"[0-9a-f]{6,64}")
_STEP_REF = re.compile(r"^<([^<>\[\]]+)(?:\[\d+\])?>$")
_MAX_STEPS = 5000
_MAX_CHARTS = 40


class InvalidRunQueryError(ConveyorError, ValueError):
    """A runs page was given a query parameter or run id it cannot take."""

    code = "invalid_run_query"


@dataclass(frozen=True)
class RunRow:
    """One row of ``/runs``: the run, its shown parameters and latest metrics."""

    run: Run
    params: dict[str, str]
    metrics: dict[str, float]


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
        parent_ids=ids, kinds=["step"], limit=_MAX_STEPS, sort="started_at", descending=False
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


def line_figure(key: str, series: Mapping[str, Sequence[MetricPoint]]) -> dict[str, Any]:
    """A plotly line chart of metric ``key``: one line per ``{label: points}``."""
    data = []
    for label, points in series.items():
        xs = [p.step if p.step is not None else i for i, p in enumerate(points)]
        ys = [p.value if math.isfinite(p.value) else None for p in points]
        data.append({"type": "scatter", "mode": "lines+markers", "name": label, "x": xs, "y": ys})
    return {
        "data": data,
        "layout": {
            "title": {"text": key},
            "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
            "xaxis": {"title": {"text": "step"}},
            "showlegend": len(series) > 1,
        },
    }


def step_graph(steps: Sequence[Run]) -> Markup:
    """An SVG of a pipeline run's steps and the data flowing between them.

    A step's parameters name the steps it reads as ``"<name>"`` or ``"<name[i]>"``;
    steps are placed in columns by their longest path from a source (steps started
    earlier come first, so the order is a valid order of the graph). Every text is
    escaped.
    """
    latest: dict[str, Run] = {}
    for step in steps:  # a step run twice (resumed) shows its newest run
        latest[step.name] = step
    names = list(latest)
    edges: list[tuple[str, str]] = []
    for name, step in latest.items():
        for value in step.params.values():
            match = _STEP_REF.match(value) if isinstance(value, str) else None
            if match and match.group(1) in latest and (match.group(1), name) not in edges:
                edges.append((match.group(1), name))
    level: dict[str, int] = {}
    for name in names:
        ups = [level[a] for a, b in edges if b == name and a in level]
        level[name] = max(ups, default=-1) + 1
    columns: dict[int, list[str]] = {}
    for name in names:
        columns.setdefault(level[name], []).append(name)
    width, height, gap_x, gap_y = 150, 44, 60, 18
    pos = {
        name: (20 + col * (width + gap_x), 20 + row * (height + gap_y))
        for col, members in columns.items()
        for row, name in enumerate(members)
    }
    total_w = 40 + len(columns) * (width + gap_x) - gap_x
    total_h = 40 + max(len(m) for m in columns.values()) * (height + gap_y) - gap_y
    parts = [
        f'<svg class="graph" id="step-graph" xmlns="http://www.w3.org/2000/svg" '
        f'width="{total_w}" height="{total_h}" viewBox="0 0 {total_w} {total_h}" role="img" '
        f'aria-label="steps of the pipeline run">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#9fb0c5"/>'
        "</marker></defs>",
    ]
    for a, b in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        parts.append(
            f'<path class="edge" d="M{xa + width},{ya + height // 2} '
            f"C{xa + width + gap_x // 2},{ya + height // 2} {xb - gap_x // 2},{yb + height // 2} "
            f'{xb},{yb + height // 2}"/>'
        )
    for name, step in latest.items():
        x, y = pos[name]
        state = _step_state(step)
        parts.append(
            f'<g class="node status-{escape(step.status)}" id="step-{escape(name)}">'
            f'<a href="/runs/{escape(step.id)}"><rect x="{x}" y="{y}" width="{width}" '
            f'height="{height}"/><text x="{x + 10}" y="{y + 18}">{escape(_cut(name, 20))}</text>'
            f'<text x="{x + 10}" y="{y + 35}" class="muted">{escape(state)}</text></a>'
            f"<title>{escape(name)}: {escape(state)}</title></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def _step_state(step: Run) -> str:
    if step.status == "cached" or step.cached_from:
        return "cached"
    if step.status == "completed":
        return "ran"
    return step.status


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    labels = {run.id: f"{run.short_id} {_cut(run.name, 30)}" for run in runs}
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
            limit=_MAX_STEPS,
            sort="started_at",
            descending=False,
        )
        return found.runs
    parents = {run.parent_id for run in runs}
    if all(run.kind == "trial" for run in runs) and len(parents) == 1:
        return list(runs)
    return []


def trials_figure(
    trials: Sequence[Run], latest: Mapping[str, Mapping[str, MetricPoint]]
) -> dict[str, Any]:
    """A plotly chart of a study's objective per trial, in the order the trials ran."""
    ordered = sorted(trials, key=lambda t: (t.started_at, t.id))
    x: list[int] = []
    y: list[float | None] = []
    labels: list[str] = []
    for number, trial in enumerate(ordered):
        point = latest.get(trial.id, {}).get("objective")
        x.append(number)
        y.append(point.value if point is not None and math.isfinite(point.value) else None)
        labels.append(f"{trial.name} ({trial.status})")
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers+lines",
                "name": "objective",
                "x": x,
                "y": y,
                "text": labels,
            }
        ],
        "layout": {
            "title": {"text": "Objective per trial"},
            "xaxis": {"title": {"text": "trial"}},
            "yaxis": {"title": {"text": "objective"}},
        },
    }


def parallel_figure(
    trials: Sequence[Run], latest: Mapping[str, Mapping[str, MetricPoint]]
) -> dict[str, Any]:
    """A plotly ``parcoords`` figure: one line per trial over its parameters and objective.

    Numeric parameters are axes as they are; text parameters become axes of their values
    (tick labels name them). The line colour is the objective.
    """
    keys = sorted({key for trial in trials for key in trial.params})
    dimensions: list[dict[str, Any]] = []
    for key in keys:
        values = [trial.params.get(key) for trial in trials]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            dimensions.append({"label": key, "values": values})
        else:
            texts = [short_value(v, 30) for v in values]
            levels = sorted(set(texts))
            dimensions.append(
                {
                    "label": key,
                    "values": [levels.index(t) for t in texts],
                    "tickvals": list(range(len(levels))),
                    "ticktext": levels,
                }
            )
    objective = []
    for trial in trials:
        point = latest.get(trial.id, {}).get("objective")
        value = point.value if point is not None and math.isfinite(point.value) else None
        objective.append(value)
    dimensions.append({"label": "objective", "values": objective})
    line: dict[str, Any] = {"color": [0 if v is None else v for v in objective]}
    line["colorscale"] = "Viridis"
    line["showscale"] = True
    return {
        "data": [{"type": "parcoords", "line": line, "dimensions": dimensions}],
        "layout": {"margin": {"l": 60, "r": 60, "t": 50, "b": 30}},
    }
