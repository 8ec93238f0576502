"""The story told back: a rich timeline and figures in the terminal, and a one-file HTML report.

The report is self-contained (plotly's script inlined once), so it can be mailed or opened
offline: the timeline, accuracy over time by model version, the drift score of every feature
when winter arrived, and the canary steps of each rollout.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from conveyor.demo._project import ENV

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from conveyor.demo._timeline import Figures, TimelineEvent
    from conveyor.deployments import Deployment
    from conveyor.monitoring import MonitoringReport
    from conveyor.workspace import Workspace

_STYLE = {
    "deployment": "cyan",
    "automation": "magenta",
    "audit": "white",
    "monitoring": "yellow",
    "traffic": "green",
}


def print_story(out: Console, timeline: list[TimelineEvent], figures: Figures) -> None:
    """Print the timeline table and the headline figures."""
    start = timeline[0].at if timeline else None
    table = Table(title="Timeline", show_lines=False, header_style="bold", expand=True)
    table.add_column("t+s", justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("event", ratio=2)
    table.add_column("reason", ratio=3)
    for event in timeline:
        offset = (event.at - start).total_seconds() if start else 0.0
        style = _STYLE.get(event.source, "white")
        table.add_row(f"{offset:6.1f}", f"[{style}]{event.source}[/]", event.what, event.reason)
    out.print(table)
    out.print(headline_table(figures))


def headline_table(figures: Figures) -> Table:
    """The headline figures as a two-column table."""
    table = Table(title="Headline figures", header_style="bold")
    table.add_column("figure")
    table.add_column("value", justify="right")
    seconds = figures.new_data_to_serving_s
    table.add_row(
        "new data -> new model serving all traffic",
        "n/a" if seconds is None else f"{seconds:.1f} s",
    )
    table.add_row("requests served", f"{figures.requests:,} ({figures.rows:,} rows)")
    for (name, phase), (accuracy, labels) in sorted(figures.accuracy.items()):
        table.add_row(f"accuracy, {name}, {phase} the shift", f"{accuracy:.3f} ({labels:,} labels)")
    table.add_row("rows the broken model answered before rollback", f"{figures.broken_rows:,}")
    return table


def write_report(
    path: Path,
    ws: Workspace,
    timeline: list[TimelineEvent],
    figures: Figures,
    *,
    drift: MonitoringReport | None,
    rollouts: list[tuple[str, Deployment]],
) -> Path:
    """Write the HTML report of the story to ``path`` and return it."""
    import jinja2
    import plotly.io as pio

    charts = [
        ("Timeline", _timeline_chart(timeline)),
        ("Accuracy over time by model version", _accuracy_chart(ws)),
        ("Drift per feature when winter arrived", _drift_chart(drift)),
        ("Canary steps", _canary_chart(ws, rollouts)),
    ]
    blocks = []
    for index, (title, figure) in enumerate(charts):
        figure.update_layout(title=title, height=380, margin={"t": 50, "b": 40})
        html = pio.to_html(figure, full_html=False, include_plotlyjs=index == 0)
        blocks.append({"title": title, "html": html})
    environment = jinja2.Environment(autoescape=True)
    page = environment.from_string(_TEMPLATE).render(
        blocks=blocks,
        timeline=timeline,
        start=timeline[0].at if timeline else None,
        headline=_headline_rows(figures),
        generated=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    path.write_text(page, encoding="utf-8")
    return path


def _headline_rows(figures: Figures) -> list[tuple[str, str]]:
    table = headline_table(figures)
    cells = [list(column.cells) for column in table.columns]
    return [(str(a), str(b)) for a, b in zip(cells[0], cells[1], strict=True)]


def _timeline_chart(timeline: list[TimelineEvent]) -> go.Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    for source in _STYLE:
        events = [e for e in timeline if e.source == source]
        if events:
            figure.add_trace(
                go.Scatter(
                    x=[e.at for e in events],
                    y=[source] * len(events),
                    mode="markers",
                    name=source,
                    text=[f"{e.what}<br>{e.reason}" for e in events],
                    hoverinfo="text+x",
                    marker={"size": 11},
                )
            )
    return figure


def _accuracy_chart(ws: Workspace) -> go.Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    log = ws.predictions.read(environment=ENV)
    if len(log) == 0 or "label" not in log:
        return figure
    labelled = log[log["label"].notna() & (log["status"] == "ok")].copy()
    labelled["hit"] = labelled["prediction"].astype(int) == labelled["label"].astype(int)
    for version, group in labelled.groupby("version"):
        rows = group.sort_values("at")
        rolling = rows["hit"].astype(float).rolling(200, min_periods=50).mean()
        figure.add_trace(
            go.Scatter(x=rows["at"], y=rolling, mode="lines", name=f"v{version} (200-row mean)")
        )
    figure.update_yaxes(title="accuracy")
    return figure


def _drift_chart(report: MonitoringReport | None) -> go.Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    if report is None:
        return figure
    features: dict[str, Any] = dict(report.drift.get("features", {}))
    names = sorted(features)
    figure.add_trace(
        go.Bar(
            x=names,
            y=[_drift_strength(features[n]) for n in names],
            marker_color=["crimson" if features[n].get("drifted") else "steelblue" for n in names],
            text=[f"{features[n].get('test', '')}" for n in names],
            hovertext=[
                f"{n}: {features[n].get('test')} score {features[n].get('score'):.4g}, "
                f"threshold {features[n].get('threshold')}"
                for n in names
            ],
        )
    )
    figure.update_yaxes(title="drift strength: score / threshold (red: drifted)")
    return figure


def _drift_strength(feature: dict[str, Any]) -> float:
    """One scale for every test, higher = more drift, 1 = the threshold: p-value tests as
    log(p) / log(threshold), distance tests as distance / threshold (capped for the chart)."""
    score = float(feature.get("score") or 0.0)
    threshold = float(feature.get("threshold") or 1.0)
    if feature.get("statistic") == "p_value":
        if score <= 0.0:
            return 10.0
        return min(10.0, math.log(score) / math.log(threshold)) if 0 < threshold < 1 else 0.0
    return min(10.0, score / threshold) if threshold > 0 else 0.0


def _canary_chart(ws: Workspace, rollouts: list[tuple[str, Deployment]]) -> go.Figure:
    import plotly.graph_objects as go

    figure = go.Figure()
    history = ws.deployments.history(ENV)
    for _, started in rollouts:
        candidate = next((v for v in started.variants if v.role == "challenger"), None)
        if candidate is None:
            continue
        points = []
        for transition in history:
            if transition.revision < started.revision:
                continue
            weight = sum(
                v.weight
                for v in transition.variants
                if v.model == candidate.model and v.version == candidate.version
            )
            points.append((transition.at, weight, f"{transition.action}: {transition.reason}"))
            if transition.action in ("promote", "rollback"):
                break
        figure.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="lines+markers",
                line_shape="hv",
                name=f"{candidate.model}@{candidate.version}",
                text=[p[2] for p in points],
            )
        )
    figure.update_yaxes(title="% of live traffic", range=[-5, 105])
    return figure


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>conveyor demo: the shop's recommender</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.src { font-weight: 600; }
</style></head><body>
<h1>conveyor demo: a recommender from data to a closed loop</h1>
<p>Generated {{ generated }}. Every event below comes from the project's records: the
audit trail, the deployment history and the automation events.</p>
<h2>Headline figures</h2>
<table>{% for name, value in headline %}<tr><td>{{ name }}</td><td>{{ value }}</td></tr>
{% endfor %}</table>
{% for block in blocks %}<h2>{{ block.title }}</h2>{{ block.html | safe }}
{% endfor %}
<h2>Every event</h2>
<table><tr><th>t+s</th><th>source</th><th>event</th><th>reason</th></tr>
{% for e in timeline %}<tr><td>{{ "%.1f" | format((e.at - start).total_seconds()) }}</td>
<td class="src">{{ e.source }}</td><td>{{ e.what }}</td><td>{{ e.reason }}</td></tr>
{% endfor %}</table>
</body></html>
"""
