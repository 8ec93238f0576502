"""The monitoring pages of the web UI.

``/monitoring`` shows the newest reports (of an environment, of a model): drift per feature
over time as a heatmap, each report's verdict, the model metric with its confidence
interval as labels arrive, and the open alerts. It reads the reports' summaries
(:meth:`BaseMonitoringRecords.report_summaries`: no histograms), filtered in the records.
``/monitoring/reports/{id}`` shows one report, read by its id: every feature's test and
score, and the reference against the window histogram of a feature, as the report stored it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response

from conveyor.core import validate_name
from conveyor.errors import ConveyorError
from conveyor.monitoring import (
    BaseMonitoringRecords,
    FeatureDriftSummary,
    MonitoringReport,
    ReportSummary,
    SqlMonitoringRecords,
)
from conveyor.ui._core import UI, PageRequest

__all__ = ["MAX_REPORTS", "ReportNotFoundError", "add_pages", "drift_strength", "heatmap"]

#: The most reports the overview reads (the newest).
MAX_REPORTS = 200
#: How far past its threshold a score may be shown (log10), either way.
_CLIP = 6.0


class ReportNotFoundError(ConveyorError, LookupError):
    """No monitoring report has the id asked for."""

    code = "report_not_found"


def drift_strength(result: FeatureDriftSummary) -> float | None:
    """How far a feature's score is past its threshold, in log10 units (> 0: drifted).

    A p-value drifts below its threshold, a distance at or above it; both come out on one
    scale so a heatmap can colour them alike (clipped to +-6).
    """
    score, threshold = result.score, result.threshold
    if score is None or threshold is None or not math.isfinite(score) or threshold <= 0:
        return None
    tiny = 1e-300
    if result.statistic == "p_value":
        value = math.log10(threshold / max(score, tiny))
        if result.drifted and value <= 0:
            value = 1e-6
    else:
        value = math.log10(max(score, tiny) / threshold)
        if result.drifted and value < 0:
            value = 0.0
    return max(-_CLIP, min(_CLIP, value))


def _label(report: ReportSummary) -> str:
    return f"#{report.id} {report.environment} {report.ref}"


def heatmap(reports: Sequence[ReportSummary]) -> dict[str, Any]:
    """The drift heatmap: one row per report (oldest first), one column per feature."""
    features = sorted({name for r in reports for name in r.features})
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    scores: list[list[float | None]] = []
    drifted: list[list[bool]] = []
    for report in reports:
        results = report.features
        row_z: list[float | None] = []
        row_text: list[str] = []
        row_scores: list[float | None] = []
        row_drifted: list[bool] = []
        for name in features:
            result = results.get(name)
            if result is None:
                row_z.append(None)
                row_text.append("")
                row_scores.append(None)
                row_drifted.append(False)
                continue
            row_z.append(drift_strength(result))
            row_text.append("drifted" if result.drifted else "")
            row_scores.append(result.score)
            row_drifted.append(result.drifted)
        z.append(row_z)
        text.append(row_text)
        scores.append(row_scores)
        drifted.append(row_drifted)
    return {
        "data": [
            {
                "type": "heatmap",
                "x": features,
                "y": [_label(r) for r in reports],
                "z": z,
                "text": text,
                "customdata": scores,
                "texttemplate": "%{text}",
                "hovertemplate": "%{y}<br>%{x}: score %{customdata:.3g} %{text}"
                "<extra>strength %{z:.2f}</extra>",
                "zmin": -_CLIP,
                "zmax": _CLIP,
                "zmid": 0,
                "colorscale": [[0, "#2f7d4f"], [0.5, "#f4f4f4"], [1, "#c0392b"]],
                "colorbar": {"title": {"text": "log10 past threshold"}},
            }
        ],
        "layout": {
            "title": {"text": "Drift per feature (red: past the test's threshold)"},
            "yaxis": {"type": "category", "automargin": True},
            "xaxis": {"type": "category", "automargin": True},
            "margin": {"t": 40, "r": 10},
        },
        "reports": [r.id for r in reports],
        "drifted": drifted,
    }


def _performance_figure(reports: Sequence[ReportSummary]) -> dict[str, Any]:
    shown = [r for r in reports if r.performance.value is not None]
    metrics = sorted({str(r.performance.metric) for r in shown})
    data: list[dict[str, Any]] = []
    for metric in metrics:
        rows = [r for r in shown if str(r.performance.metric) == metric]
        values = [float(r.performance.value or 0.0) for r in rows]
        cis = [r.performance.ci or (v, v) for r, v in zip(rows, values, strict=True)]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": metric,
                "x": [_label(r) for r in rows],
                "y": values,
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [hi - v for (_, hi), v in zip(cis, values, strict=True)],
                    "arrayminus": [v - lo for (lo, _), v in zip(cis, values, strict=True)],
                },
                "customdata": [
                    [lo, hi, r.performance.labels or 0]
                    for (lo, hi), r in zip(cis, rows, strict=True)
                ],
                "hovertemplate": "%{y:.4f} (ci %{customdata[0]:.4f}-%{customdata[1]:.4f}, "
                "%{customdata[2]} labels)",
            }
        )
        references = [r.performance.reference for r in rows]
        if any(v is not None for v in references):
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"{metric} at registration",
                    "x": [_label(r) for r in rows],
                    "y": references,
                    "line": {"dash": "dash"},
                }
            )
    return {
        "data": data,
        "layout": {
            "title": {"text": "Model metric on labelled traffic, with its confidence interval"},
            "xaxis": {"type": "category", "automargin": True},
            "margin": {"t": 40, "r": 10},
        },
    }


def _histogram(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The reference vs window bars a feature's result stores (``None``: none stored)."""
    overlay = result.get("overlay")
    if not isinstance(overlay, Mapping):
        return None
    reference = list(overlay.get("reference") or [])
    window = list(overlay.get("window") or [])
    if "categories" in overlay:
        labels = [str(c) for c in overlay["categories"]]
    elif "edges" in overlay:
        edges = [float(e) for e in overlay["edges"]]
        inner = [f"{lo:.4g} to {hi:.4g}" for lo, hi in itertools.pairwise(edges)]
        labels = inner
        if len(reference) == len(inner) + 2 and edges:
            labels = [f"< {edges[0]:.4g}", *inner, f"> {edges[-1]:.4g}"]
    else:
        return None
    if len(reference) != len(labels) or len(window) != len(labels):
        # Extra bins (e.g. categories not seen in the reference) get their own labels.
        size = max(len(reference), len(window))
        labels = labels + [f"other {i}" for i in range(len(labels), size)]
        reference += [0.0] * (size - len(reference))
        window += [0.0] * (size - len(window))
    return {
        "data": [
            {"type": "bar", "name": "reference", "x": labels, "y": reference},
            {"type": "bar", "name": "window", "x": labels, "y": window},
        ],
        "layout": {
            "barmode": "group",
            "title": {"text": f"{result.get('feature', '')}: reference vs window"},
            "xaxis": {"type": "category", "automargin": True},
            "yaxis": {"title": {"text": "share of rows"}, "tickformat": ".0%"},
            "margin": {"t": 40, "r": 10},
        },
    }


def _find_report(records: BaseMonitoringRecords, report_id: str) -> MonitoringReport:
    if not report_id.isascii() or not report_id.isdigit() or len(report_id) > 18:
        raise ReportNotFoundError(
            f"No monitoring report {report_id[:40]!r}: report ids are whole numbers.",
            hint="Pick a report from /monitoring.",
            report=report_id[:40],
        )
    wanted = int(report_id)
    report = records.report(wanted)
    if report is not None:
        return report
    newest = records.report_summaries(None, limit=1)
    if not newest:
        why = "none is stored yet"
    elif 1 <= wanted < newest[-1].id:
        why = f"it was removed (the newest is #{newest[-1].id})"
    else:
        why = f"the newest is #{newest[-1].id}"
    raise ReportNotFoundError(
        f"No monitoring report #{wanted}: {why}.",
        hint="Pick a report from /monitoring.",
        report=wanted,
    )


def add_pages(ui: UI) -> None:
    """Add the monitoring pages to ``ui``."""

    @ui.page("/monitoring", name="monitoring.index")
    def monitoring(page: PageRequest) -> Response:
        env = page.query("env", max_length=128)
        model = page.query("model", max_length=128)
        if env is not None:
            env = validate_name(env, kind="environment")
        if model is not None:
            model = validate_name(model, kind="model")
        records = page.ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
        reports = records.report_summaries(env, model=model, limit=MAX_REPORTS)
        alerts = [
            a
            for a in records.open_alerts()
            if (env is None or a.details.get("environment") == env)
            and (model is None or str(a.details.get("model", "")).split("@")[0] == model)
        ]
        environments = sorted(
            set(page.ws.settings.config.environments) | {r.environment for r in reports}
        )
        return ui.render(
            page,
            "monitoring.html.j2",
            env=env,
            model=model,
            query={"env": env, "model": model},
            reports=reports[::-1],
            environments=environments,
            models=sorted({r.model for r in reports}),
            heatmap=heatmap(reports),
            performance=_performance_figure(reports),
            has_performance=any(r.performance.value is not None for r in reports),
            alerts=alerts,
            limit=MAX_REPORTS,
        )

    @ui.page("/monitoring/reports/{report_id}", name="monitoring.report")
    def report_page(page: PageRequest, report_id: str) -> Response:
        records = page.ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
        report = _find_report(records, report_id)
        features: dict[str, Any] = dict(report.drift.get("features", {}))
        quality: dict[str, Any] = dict(report.quality.get("columns", {}))
        names = sorted(set(features) | set(quality))
        feature = page.query("feature", max_length=256)
        if feature is None:
            feature = next(
                (n for n in names if features.get(n, {}).get("drifted")),
                next((n for n in names if n in features), None),
            )
        elif feature not in features:
            raise ReportNotFoundError(
                f"Report #{report.id} has no drift result for feature {feature!r}. "
                f"Features: {', '.join(sorted(features)) or 'none'}.",
                hint="Pick a feature from the report's table.",
                feature=feature,
            )
        selected = features.get(feature) if feature is not None else None
        histogram = _histogram(selected) if isinstance(selected, Mapping) else None
        prediction = report.drift.get("prediction")
        return ui.render(
            page,
            "monitoring_report.html.j2",
            report=report,
            names=names,
            features=features,
            quality=quality,
            feature=feature,
            selected=selected,
            histogram=histogram,
            prediction=prediction if isinstance(prediction, Mapping) else None,
            drift=report.drift,
            performance=report.performance,
        )
