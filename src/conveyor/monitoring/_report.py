"""What monitoring stores: the :class:`MonitoringReport` and the :class:`Alert` incident."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
