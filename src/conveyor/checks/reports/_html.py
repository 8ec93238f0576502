"""The self-contained HTML report: a Jinja2 page with plotly figures and plotly.js inlined.

Plot data comes from each result's ``details["plot"]``: ``kind`` ``"comparison"``
(candidate vs champion with the CI of the difference), ``"bar"``/``"bars"`` (values per
feature or per slice, with an optional threshold line), ``"calibration"`` (reliability
curve), ``"line"`` (a metric series), or a ready plotly figure (``data`` + ``layout``).
Dataset profiles passed in add per-feature distribution plots.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from conveyor.checks._base import CheckResult
from conveyor.checks._decision import GateDecision
from conveyor.checks._suite import SuiteResult
from conveyor.checks.reports._text import format_value

if TYPE_CHECKING:
    import plotly.graph_objects as go

_TEMPLATES = Path(__file__).parent / "templates"
#: Distribution plots kept per report (the widest tables would make it huge).
_MAX_FEATURES = 30


def render_html(
    suite: SuiteResult,
    decision: GateDecision | None = None,
    *,
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The HTML report as one string (works offline: no external scripts or styles)."""
    import plotly.io as pio  # heavy: imported only when a report is rendered

    figures: list[tuple[str, go.Figure]] = []
    for index, r in enumerate(suite.results):
        plot = r.details.get("plot")
        if isinstance(plot, Mapping):
            figure = _figure(r, plot)
            if figure is not None:
                figures.append((f"plot-{index}-{r.name}", figure))
    figures.extend(_distribution_figures(profiles or {}))
    divs = []
    for position, (div_id, figure) in enumerate(figures):
        divs.append(
            pio.to_html(
                figure,
                full_html=False,
                include_plotlyjs=position == 0,  # inline plotly.js once, before the first plot
                div_id=div_id,
                config={"displaylogo": False},
            )
        )
    rows = [
        {
            "name": r.name,
            "status": r.status,
            "value": format_value(r.value),
            "threshold": format_value(r.threshold),
            "severity": r.severity,
            "explanation": r.explanation,
        }
        for r in suite.results
    ]
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    return env.get_template("report.html.j2").render(
        suite=suite, decision=decision, rows=rows, plots=divs, counts=suite.counts
    )


def _figure(result: CheckResult, plot: Mapping[str, Any]) -> go.Figure | None:
    import plotly.graph_objects as go

    kind = plot.get("kind")
    title = str(plot.get("title") or result.name)
    if "data" in plot and "layout" in plot:
        return go.Figure(plot)
    if kind == "comparison":
        metric = str(plot.get("metric", "metric"))
        low, high = [*list(plot.get("ci") or []), None, None][:2]
        fig = go.Figure(
            go.Bar(x=["champion", "candidate"], y=[plot.get("champion"), plot.get("candidate")])
        )
        delta = plot.get("delta")
        if delta is not None and low is not None and high is not None:
            fig.add_annotation(
                text=f"candidate - champion: {format_value(delta)} "
                f"(CI {format_value(low)} .. {format_value(high)})",
                xref="paper",
                yref="paper",
                x=0.5,
                y=1.08,
                showarrow=False,
            )
        fig.update_layout(title=f"{metric}: candidate vs champion", yaxis_title=metric)
        return fig
    if kind == "calibration":
        x = list(plot.get("mean_score") or plot.get("x") or [])
        y = list(plot.get("positive_rate") or plot.get("y") or [])
        fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name="model"))
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect"))
        fig.update_layout(
            title="Calibration curve",
            xaxis_title="mean predicted probability",
            yaxis_title="observed positive rate",
        )
        return fig
    if kind == "bars" and isinstance(plot.get("segments"), list):
        segments = [s for s in plot["segments"] if isinstance(s, Mapping)]
        x = [f"{s.get('column')}={s.get('segment')}" for s in segments]
        y = [s.get("value") for s in segments]
        fig = go.Figure(go.Bar(x=x, y=y))
        _threshold(fig, plot.get("minimum"))
        fig.update_layout(title=f"{plot.get('metric', 'metric')} per slice")
        return fig
    if kind in ("bar", "bars"):
        bar = go.Bar(x=list(plot.get("x") or []), y=list(plot.get("y") or []))
        if plot.get("error_y") is not None:
            bar.error_y = {"type": "data", "array": list(plot["error_y"])}
        fig = go.Figure(bar)
        _threshold(fig, plot.get("threshold"))
        fig.update_layout(title=title)
        return fig
    if kind == "line":
        y = list(plot.get("y") or [])
        x = list(plot.get("x") or range(len(y)))
        fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers"))
        fig.update_layout(title=title)
        return fig
    return None


def _threshold(fig: go.Figure, value: Any) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        fig.add_hline(y=float(value), line_dash="dash", annotation_text="threshold")


def _distribution_figures(
    profiles: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, go.Figure]]:
    import plotly.graph_objects as go

    columns: dict[str, dict[str, Mapping[str, Any]]] = {}
    for label, profile in profiles.items():
        for name, stats in (profile.get("columns") or {}).items():
            if isinstance(stats, Mapping):
                columns.setdefault(str(name), {})[label] = stats
    out: list[tuple[str, go.Figure]] = []
    for name, by_label in list(columns.items())[:_MAX_FEATURES]:
        fig = go.Figure()
        for label, stats in by_label.items():
            histogram = stats.get("histogram")
            if isinstance(histogram, Mapping) and histogram.get("edges"):
                edges = list(histogram["edges"])
                centres = [(a + b) / 2 for a, b in pairwise(edges)]
                fig.add_trace(go.Bar(x=centres, y=list(histogram["counts"]), name=label))
            elif isinstance(stats.get("top"), list):
                top = [t for t in stats["top"] if isinstance(t, Mapping)]
                fig.add_trace(
                    go.Bar(
                        x=[str(t["value"]) for t in top], y=[t["share"] for t in top], name=label
                    )
                )
        if fig.data:
            fig.update_layout(title=f"Distribution of {name}", barmode="group")
            out.append((f"dist-{len(out)}", fig))
    return out
