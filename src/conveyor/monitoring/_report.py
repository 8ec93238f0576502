"""What monitoring stores: the report, its dashboard summary, and the alert incident."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from conveyor.core import isoformat


@dataclass(frozen=True)
class MonitoringReport:
    """One monitoring report over a window of an environment's traffic.

    Attributes:
        id: The report row id.
        environment: The deployment environment.
        model: Model name.
        version: Model version the window was served by.
        revision: Deployment revision (``None`` when monitored by ``--model``).
        window_start: Time of the window's first prediction (``None`` if empty).
        window_end: Time of its last prediction.
        rows: Predictions in the window.
        labelled_rows: Of those, how many have a label.
        verdict: ``"ok"``, ``"drift"``, ``"degraded"`` or ``"insufficient"``.
        message: One line saying why.
        reference: The reference: dataset versions and the model version's metric.
        drift: Per-feature drift, prediction drift, share and dataset verdict.
        performance: Metric, confidence interval, label count, series, concept drift.
        quality: Per-column data quality of the window.
        content_hash: Hash of the full report JSON in the artifact store.
        created_at: When the report was made.
        actor: Who made it.
        files: Paths of the written Markdown and HTML reports.
        alerts: Alert events sent by this run (``monitor.alert``, ``monitor.recovered``).
    """

    id: int
    environment: str
    model: str
    version: int
    revision: int | None
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    labelled_rows: int
    verdict: str
    message: str
    reference: dict[str, Any]
    drift: dict[str, Any]
    performance: dict[str, Any]
    quality: dict[str, Any]
    content_hash: str
    created_at: datetime
    actor: str
    files: dict[str, str] = field(default_factory=dict)
    alerts: tuple[dict[str, Any], ...] = ()

    @property
    def ref(self) -> str:
        """The monitored model version, ``name@version``."""
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the whole report."""
        return {
            "id": self.id,
            "environment": self.environment,
            "model": self.model,
            "version": self.version,
            "revision": self.revision,
            "window_start": None if self.window_start is None else isoformat(self.window_start),
            "window_end": None if self.window_end is None else isoformat(self.window_end),
            "rows": self.rows,
            "labelled_rows": self.labelled_rows,
            "verdict": self.verdict,
            "message": self.message,
            "reference": self.reference,
            "drift": self.drift,
            "performance": self.performance,
            "quality": self.quality,
            "content_hash": self.content_hash,
            "created_at": isoformat(self.created_at),
            "actor": self.actor,
            "files": self.files,
            "alerts": list(self.alerts),
        }

    def gauges(self) -> list[tuple[str, dict[str, str], float]]:
        """Prometheus gauge samples: ``(name, labels, value)``.

        ``conveyor_drift_score{feature}`` (the test's score), ``conveyor_drift_share``,
        ``conveyor_model_metric{metric}`` (when labels gave a value).
        """
        base = {"environment": self.environment, "model": self.model}
        out: list[tuple[str, dict[str, str], float]] = []
        for feature, result in sorted(self.drift.get("features", {}).items()):
            out.append(
                ("conveyor_drift_score", {**base, "feature": feature}, float(result["score"]))
            )
        out.append(("conveyor_drift_share", base, float(self.drift.get("share", 0.0))))
        value = self.performance.get("value")
        if value is not None:
            metric = str(self.performance.get("metric"))
            out.append(("conveyor_model_metric", {**base, "metric": metric}, float(value)))
        return out


@dataclass(frozen=True)
class Alert:
    """One alert incident: opened when a threshold is first crossed, closed on recovery.

    Attributes:
        id: The incident's id.
        incident_key: What the incident is about, e.g. ``"production:churn:drift"``; at
            most one incident per key is open at a time.
        kind: ``"drift"`` or ``"degraded"``.
        first_at: When it was opened.
        last_at: When it was last seen (touched while it stays open, or closed).
        open: Whether the condition still holds.
        details: What was recorded when it opened, with ``"latest"`` (while ongoing) and
            ``"recovered"`` (once closed) added.
    """

    id: int
    incident_key: str
    kind: str
    first_at: datetime
    last_at: datetime
    open: bool
    details: dict[str, Any]


class FeatureDriftSummary(NamedTuple):
    """One feature's drift verdict in a report, without its histograms and details.

    A named tuple: a page of 200 reports of 25 features builds 5,000 of them.

    Attributes:
        test: Name of the test that ran (``None`` when the report did not say).
        statistic: ``"p_value"`` or ``"distance"`` (``None`` when not said).
        score: The p-value or distance (``None`` when not a number).
        threshold: Drift when ``score < threshold`` (p-value) or ``>=`` (distance).
        drifted: Whether the feature drifted.
    """

    test: str | None
    statistic: str | None
    score: float | None
    threshold: float | None
    drifted: bool


@dataclass(frozen=True)
class PerformanceSummary:
    """The model metric of a report over its labelled rows.

    Attributes:
        metric: The metric's name (``None`` when the report has none).
        value: Its value (``None`` until labels arrive).
        ci: Its confidence interval ``(low, high)``, if any.
        labels: How many labels it was computed on.
        reference: The version's metric at registration, to compare with.
    """

    metric: str | None = None
    value: float | None = None
    ci: tuple[float, float] | None = None
    labels: int | None = None
    reference: float | None = None


@dataclass(frozen=True)
class ReportSummary:
    """What a dashboard shows of a :class:`MonitoringReport`: no histograms, no quality.

    Attributes:
        id: The report id.
        environment: The deployment environment.
        model: Model name.
        version: Model version the window was served by.
        revision: Deployment revision (``None`` when monitored without one).
        window_start: Time of the window's first prediction (``None`` if empty).
        window_end: Time of its last prediction.
        rows: Predictions in the window.
        labelled_rows: Of those, how many have a label.
        verdict: ``"ok"``, ``"drift"``, ``"degraded"`` or ``"insufficient"``.
        message: One line saying why.
        created_at: When the report was made.
        actor: Who made it.
        features: Per feature, its drift verdict (by feature name).
        drifted: Names of the drifted features, as the report lists them.
        share: Share of drifted features (``None`` when not said).
        dataset_drift: Whether the dataset as a whole drifted (``None`` when not said).
        performance: The model metric with its interval.
    """

    id: int
    environment: str
    model: str
    version: int
    revision: int | None
    window_start: datetime | None
    window_end: datetime | None
    rows: int
    labelled_rows: int
    verdict: str
    message: str
    created_at: datetime
    actor: str
    features: dict[str, FeatureDriftSummary] = field(default_factory=dict)
    drifted: tuple[str, ...] = ()
    share: float | None = None
    dataset_drift: bool | None = None
    performance: PerformanceSummary = field(default_factory=PerformanceSummary)

    @property
    def ref(self) -> str:
        """The monitored model version, ``name@version``."""
        return f"{self.model}@{self.version}"

    @classmethod
    def of(cls, report: MonitoringReport) -> ReportSummary:
        """The summary of a whole report (what the records return for it)."""
        return cls.from_parts(
            report,
            drift_summary(report.drift, report.performance),
        )

    @classmethod
    def from_parts(cls, head: Any, summary: Mapping[str, Any]) -> ReportSummary:
        """Build a summary from a report's scalar fields and its :func:`drift_summary`.

        Args:
            head: Anything with the report's scalar attributes (``id`` ... ``actor``).
            summary: The JSON dict :func:`drift_summary` made of the report.
        """
        perf = summary.get("performance") or {}
        ci = perf.get("ci")
        return cls(
            id=head.id,
            environment=head.environment,
            model=head.model,
            version=head.version,
            revision=head.revision,
            window_start=head.window_start,
            window_end=head.window_end,
            rows=head.rows,
            labelled_rows=head.labelled_rows,
            verdict=head.verdict,
            message=head.message,
            created_at=head.created_at,
            actor=head.actor,
            features={row[0]: FeatureDriftSummary._make(row[1:]) for row in summary["features"]},
            drifted=tuple(summary.get("drifted") or ()),
            share=summary.get("share"),
            dataset_drift=summary.get("dataset_drift"),
            performance=PerformanceSummary(
                metric=perf.get("metric"),
                value=perf.get("value"),
                ci=None if ci is None else (ci[0], ci[1]),
                labels=perf.get("labels"),
                reference=perf.get("reference"),
            ),
        )


def drift_summary(drift: Mapping[str, Any], performance: Mapping[str, Any]) -> dict[str, Any]:
    """The small JSON part of a report a :class:`ReportSummary` is built from.

    Keeps, per feature, ``[name, test, statistic, score, threshold, drifted]`` (not the
    histograms and test details), the list and share of drifted features, and the metric
    with its interval (not its series). Values that are not of the expected type are left
    out (``None``), so any stored report can be summarised.

    Example:
        >>> summary = drift_summary({"features": {"age": {"score": 0.2, "overlay": {}}}}, {})
        >>> summary["features"]
        [['age', None, None, 0.2, None, False]]
    """
    features = drift.get("features")
    ci = performance.get("ci")
    interval = None
    if isinstance(ci, list | tuple) and len(ci) == 2:
        low, high = _number(ci[0]), _number(ci[1])
        interval = None if low is None or high is None else [low, high]
    labels = performance.get("labels")
    dataset_drift = drift.get("dataset_drift")
    drifted = drift.get("drifted")
    return {
        "features": [
            [
                str(name),
                _text(item.get("test")),
                _text(item.get("statistic")),
                _number(item.get("score")),
                _number(item.get("threshold")),
                bool(item.get("drifted")),
            ]
            for name, item in (features.items() if isinstance(features, Mapping) else ())
            if isinstance(item, Mapping)
        ],
        "drifted": [str(name) for name in drifted] if isinstance(drifted, list | tuple) else [],
        "share": _number(drift.get("share")),
        "dataset_drift": dataset_drift if isinstance(dataset_drift, bool) else None,
        "performance": {
            "metric": _text(performance.get("metric")),
            "value": _number(performance.get("value")),
            "ci": interval,
            "labels": labels if isinstance(labels, int) and not isinstance(labels, bool) else None,
            "reference": _number(performance.get("reference")),
        },
    }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
