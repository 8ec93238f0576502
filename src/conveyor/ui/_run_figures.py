"""What the runs pages draw: metric and trial charts (plotly figures) and a pipeline's steps.

The figures are plain dictionaries the page hands to the bundled plotly.js; the step
graph is an SVG whose every text is escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

from conveyor.tracking import MetricPoint, Run
from conveyor.ui._run_table import cut, short_value

__all__ = ["line_figure", "parallel_figure", "step_graph", "trials_figure"]

_STEP_REF = re.compile(r"^<([^<>\[\]]+)(?:\[\d+\])?>$")


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
            f'height="{height}"/><text x="{x + 10}" y="{y + 18}">{escape(cut(name, 20))}</text>'
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
