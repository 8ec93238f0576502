"""Monitoring records kept in memory: the fake of :class:`BaseMonitoringRecords` for tests.

It shows what a backend other than SQL must do and runs the shipped contract suite
(``test_monitoring_memory_records.py``); audit events go to a list, artifact references
to a set.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

from conveyor.core import Actor, utcnow
from conveyor.monitoring._records_base import BaseMonitoringRecords
from conveyor.monitoring._report import Alert, MonitoringReport, ReportSummary


class MemoryMonitoringRecords(BaseMonitoringRecords):
    """Reports and incidents in lists, one lock serialising every change."""

    def __init__(self) -> None:
        self.audit: list[tuple[str, str, str, dict[str, Any]]] = []
        self.referenced: set[str] = set()
        self._lock = threading.Lock()
        self._reports: list[MonitoringReport] = []
        self._alerts: list[Alert] = []

    def add_report(
        self,
        actor: Actor,
        *,
        environment: str,
        model: str,
        version: int,
        revision: int | None,
        window_start: datetime | None,
        window_end: datetime | None,
        rows: int,
        labelled_rows: int,
        verdict: str,
        message: str,
        reference: dict[str, Any],
        drift: dict[str, Any],
        performance: dict[str, Any],
        quality: dict[str, Any],
        content_hash: str,
    ) -> MonitoringReport:
        with self._lock:
            report = MonitoringReport(
                id=len(self._reports) + 1,
                environment=environment,
                model=model,
                version=version,
                revision=revision,
                window_start=window_start,
                window_end=window_end,
                rows=rows,
                labelled_rows=labelled_rows,
                verdict=verdict,
                message=message,
                reference=reference,
                drift=drift,
                performance=performance,
                quality=quality,
                content_hash=content_hash,
                created_at=utcnow(),
                actor=actor.name,
            )
            self._reports.append(report)
            self.referenced.add(content_hash)
            details = {"report": report.id, "verdict": verdict, "model": f"{model}@{version}"}
            self.audit.append((actor.name, "monitor.report", f"env:{environment}", details))
            return report

    def reports(self, environment: str | None = None, *, limit: int = 50) -> list[MonitoringReport]:
        found = [r for r in self._reports if environment in (None, r.environment)]
        return found[len(found) - limit :] if limit > 0 else []

    def report_summaries(
        self, environment: str | None = None, *, model: str | None = None, limit: int = 200
    ) -> list[ReportSummary]:
        found = [
            r
            for r in self._reports
            if environment in (None, r.environment) and model in (None, r.model)
        ]
        kept = found[len(found) - limit :] if limit > 0 else []
        return [ReportSummary.of(r) for r in kept]

    def report(self, report_id: int) -> MonitoringReport | None:
        return next((r for r in self._reports if r.id == report_id), None)

    def first_report(self, environment: str, model: str, version: int) -> MonitoringReport | None:
        wanted = (environment, model, version)
        return next(
            (r for r in self._reports if (r.environment, r.model, r.version) == wanted and r.rows),
            None,
        )

    def open_alert(self, incident_key: str) -> Alert | None:
        return next((a for a in self._alerts if a.open and a.incident_key == incident_key), None)

    def open_alerts(self) -> list[Alert]:
        return [a for a in self._alerts if a.open]

    def update_incident(
        self,
        actor: Actor,
        *,
        incident_key: str,
        kind: str,
        active: bool,
        details: dict[str, Any],
    ) -> str | None:
        with self._lock:
            now = utcnow()
            alert = self.open_alert(incident_key)
            if alert is None and not active:
                return None
            if alert is None:
                alert = Alert(len(self._alerts) + 1, incident_key, kind, now, now, True, details)
                self._alerts.append(alert)
                state = "opened"
            else:
                key = "latest" if active else "recovered"
                changed = replace(
                    alert, last_at=now, open=active, details={**alert.details, key: details}
                )
                self._alerts[self._alerts.index(alert)] = changed
                state = "ongoing" if active else "closed"
            entry = {"incident": incident_key, "state": state}
            self.audit.append((actor.name, "monitor.alert", f"alert:{incident_key}", entry))
            return state
