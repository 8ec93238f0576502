"""Report files: a Markdown summary and a self-contained HTML report (plotly inlined).

The HTML shows, per feature, the reference and window distributions over the same bins
or categories, the drift scores of recent reports over time, and the metric over time.
It embeds plotly.js once, so the file opens offline.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conveyor.core import isoformat
from conveyor.monitoring._report import MonitoringReport


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md(text: object) -> str:
    """Text from data (feature names, messages) as literal Markdown: no markup, no HTML."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def render_markdown(report: MonitoringReport) -> str:
    """A Markdown summary: verdict, drifted features, quality issues, performance."""
    perf = report.performance
    window = (
        f"{isoformat(report.window_start)} .. {isoformat(report.window_end)}"
        if report.window_start and report.window_end
        else "empty"
    )
    lines = [
        f"# Monitoring report {report.id}: {report.environment} / {report.ref}",
        "",
        f"**Verdict: {report.verdict}** - {_md(report.message)}",
        "",
        f"- Window: {window} ({report.rows} predictions, {report.labelled_rows} labelled)",
        f"- Deployment revision: {_fmt(report.revision)}",
        f"- Reference: {', '.join(report.reference.get('datasets', [])) or '-'}",
        f"- Drifted features: {len(report.drift.get('drifted', []))} of "
        f"{report.drift.get('tested', 0)} (share {_fmt(report.drift.get('share'))})",
        "",
        "| feature | test | score | threshold | drifted |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, result in sorted(report.drift.get("features", {}).items()):
        lines.append(
            f"| {_md(name)} | {result['test']} | {_fmt(result['score'])} | "
            f"{_fmt(result['threshold'])} | {'yes' if result['drifted'] else 'no'} |"
        )
    issues = report.quality.get("issues", [])
    if issues:
        lines += ["", "## Data quality issues", ""]
        for name in issues:
            entry = report.quality["columns"][name]
            text = f"{name}: {entry['status']} {entry.get('message', '')}".rstrip()
            lines.append(f"- {_md(text)}")
    lines += ["", "## Performance", ""]
    if perf.get("reference_missing"):
        lines.append(f"No reference metric: {_md(perf['reference_missing'])}.")
        lines.append("")
    if perf.get("value") is None:
        lines.append("No labels in the window yet.")
    else:
        lo, hi = perf["ci"]
        lines.append(
            f"{perf['metric']} = {perf['value']:.4f} (95% CI {lo:.4f}-{hi:.4f}, "
            f"{perf['labels']} labels, {perf['method']}); reference {_fmt(perf.get('reference'))}"
        )
        for name, entry in (perf.get("changes") or {}).items():
            lines.append(f"- {name}: change points at rows {entry['detections'] or 'none'}")
    return "\n".join(lines) + "\n"


def render_html(report: MonitoringReport, history: Sequence[MonitoringReport]) -> str:
    """A self-contained HTML report (see the module docstring)."""
    import plotly.graph_objects as go

    figures: list[tuple[str, Any]] = []
    for name, result in sorted(report.drift.get("features", {}).items()):
        overlay = result.get("overlay") or {}
        if "edges" in overlay:
            edges = overlay["edges"]
            labels = ["< min", *[f"{edges[i]:.3g}" for i in range(len(edges) - 1)], "> max"]
        else:
            labels = overlay.get("categories", [])
        fig = go.Figure()
        fig.add_bar(x=labels, y=overlay.get("reference", []), name="reference")
        fig.add_bar(x=labels, y=overlay.get("window", []), name="window")
        title = f"{name}: {result['test']} {result['score']:.4g}"
        fig.update_layout(title=title, barmode="group", height=320)
        figures.append((name, fig))
    runs = [r for r in history if r.drift.get("features")]
    if runs:
        fig = go.Figure()
        for name in sorted({f for r in runs for f in r.drift["features"]}):
            fig.add_scatter(
                x=[isoformat(r.created_at) for r in runs],
                y=[r.drift["features"].get(name, {}).get("score") for r in runs],
                name=name,
                mode="lines+markers",
            )
        fig.update_layout(title="Drift scores over time", height=360)
        figures.append(("scores", fig))
    series = report.performance.get("series") or []
    if series:
        fig = go.Figure()
        fig.add_scatter(
            x=[entry["end"] for entry in series],
            y=[entry["value"] for entry in series],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [e["ci"][1] - e["value"] for e in series],
                "arrayminus": [e["value"] - e["ci"][0] for e in series],
            },
            mode="lines+markers",
            name=str(report.performance.get("metric")),
        )
        fig.update_layout(title="Performance over time (labelled rows)", height=360)
        figures.append(("performance", fig))
    parts = [
        fig.to_html(full_html=False, include_plotlyjs=(i == 0), div_id=f"fig-{i}")
        for i, (_, fig) in enumerate(figures)
    ]
    title = html.escape(f"Monitoring report {report.id}: {report.environment} / {report.ref}")
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"{markdown_to_html(render_markdown(report))}{''.join(parts)}</body></html>\n"
    )


_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:1em auto}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px}"
)


def markdown_to_html(text: str) -> str:
    """Render report Markdown as HTML; raw HTML in it (e.g. from a hostile feature name or
    label) is escaped, never passed through, and unsafe link schemes are refused."""
    from markdown_it import MarkdownIt

    rendered: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return rendered


def write_report_files(
    report: MonitoringReport, history: Sequence[MonitoringReport], root: Path
) -> dict[str, str]:
    """Write ``report-<id>.md`` and ``report-<id>.html`` under ``root/<environment>/``."""
    folder = root / report.environment
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / f"report-{report.id}.md"
    page = folder / f"report-{report.id}.html"
    md.write_text(render_markdown(report), encoding="utf-8")
    page.write_text(render_html(report, history), encoding="utf-8")
    return {"markdown": str(md), "html": str(page)}
