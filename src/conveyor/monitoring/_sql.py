"""The monitoring records in the metadata store (SQLite or PostgreSQL).

A report is one ``monitoring_reports`` row plus the ``artifact_refs`` row that keeps its
full JSON from garbage collection, written in one audited transaction. Alert incidents
are ``alerts`` rows; the check for an open incident and its change happen in one write
transaction, and the store serialises writers database-wide, so two concurrent runs
cannot both open (and announce) one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.core import Actor, utcnow
from conveyor.monitoring._records_base import BaseMonitoringRecords
from conveyor.monitoring._report import Alert, MonitoringReport, ReportSummary, drift_summary
from conveyor.store import MetadataStore, WriteTx
from conveyor.store._monitoring_models import AlertRow, MonitoringReportRow


class _Unchanged(Exception):
    """Rolls back an incident update that found nothing to change (no audit event)."""


class SqlMonitoringRecords(BaseMonitoringRecords):
    """Monitoring records in the ``monitoring_reports`` and ``alerts`` tables.

    Args:
        store: The metadata store.

    Example:
        >>> records = SqlMonitoringRecords(ws.store)  # doctest: +SKIP
        >>> [a.incident_key for a in records.open_alerts()]  # doctest: +SKIP
        ['production:churn:drift']
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

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
        """Insert the report row and its artifact reference in one audited transaction."""

        def write(tx: WriteTx) -> MonitoringReport:
            row = MonitoringReportRow(
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
                summary=drift_summary(drift, performance),
                content_hash=content_hash,
                created_at=utcnow(),
                actor=actor.name,
            )
            tx.session.add(row)
            tx.session.flush()
            tx.reference(f"monitoring_report:{row.id}", [content_hash])
            tx.details = {"report": row.id, "verdict": verdict, "model": f"{model}@{version}"}
            return _report(row)

        return self.store.transact(actor, "monitor.report", f"env:{environment}", write)

    def reports(self, environment: str | None = None, *, limit: int = 50) -> list[MonitoringReport]:
        """The newest ``limit`` rows (of ``environment``), returned oldest first."""
        query = select(MonitoringReportRow)
        if environment is not None:
            query = query.where(MonitoringReportRow.environment == environment)
        query = query.order_by(MonitoringReportRow.id.desc()).limit(max(limit, 0))
        with self.store.read() as session:
            rows = list(session.scalars(query))
            return [_report(row) for row in reversed(rows)]

    def report_summaries(
        self, environment: str | None = None, *, model: str | None = None, limit: int = 200
    ) -> list[ReportSummary]:
        """The newest ``limit`` rows' scalar columns and ``summary``, returned oldest first.

        The JSON columns with histograms and data quality are not read: a summary row
        is a few kilobytes where a whole report may be tens.
        """
        query = select(*_SUMMARY_COLUMNS)
        if environment is not None:
            query = query.where(MonitoringReportRow.environment == environment)
        if model is not None:
            query = query.where(MonitoringReportRow.model == model)
        query = query.order_by(MonitoringReportRow.id.desc()).limit(max(limit, 0))
        with self.store.read() as session:
            rows = session.execute(query).all()
            # Rows stored before the summary column have one since migration 0014; any
            # other row without one is summarised from its whole JSON here.
            missing = [row.id for row in rows if row.summary is None]
            late: dict[int, dict[str, Any]] = {}
            if missing:
                whole = select(
                    MonitoringReportRow.id,
                    MonitoringReportRow.drift,
                    MonitoringReportRow.performance,
                ).where(MonitoringReportRow.id.in_(missing))
                late = {r.id: drift_summary(r.drift, r.performance) for r in session.execute(whole)}
            return [
                ReportSummary.from_parts(row, row.summary or late[row.id]) for row in reversed(rows)
            ]

    def report(self, report_id: int) -> MonitoringReport | None:
        """The row ``report_id``, by primary key."""
        with self.store.read() as session:
            row = session.get(MonitoringReportRow, report_id)
            return None if row is None else _report(row)

    def first_report(self, environment: str, model: str, version: int) -> MonitoringReport | None:
        """The row with the smallest id of that version over a non-empty window."""
        query = (
            select(MonitoringReportRow)
            .where(MonitoringReportRow.environment == environment)
            .where(MonitoringReportRow.model == model)
            .where(MonitoringReportRow.version == version)
            .where(MonitoringReportRow.rows > 0)
            .order_by(MonitoringReportRow.id)
            .limit(1)
        )
        with self.store.read() as session:
            row = session.scalars(query).first()
            return None if row is None else _report(row)

    def open_alert(self, incident_key: str) -> Alert | None:
        """The open ``alerts`` row of ``incident_key``."""
        with self.store.read() as session:
            row = _open_row(session, incident_key)
            return None if row is None else _alert(row)

    def open_alerts(self) -> list[Alert]:
        """Every open ``alerts`` row, by id."""
        query = select(AlertRow).where(AlertRow.open.is_(True)).order_by(AlertRow.id)
        with self.store.read() as session:
            return [_alert(row) for row in session.scalars(query)]

    def update_incident(
        self,
        actor: Actor,
        *,
        incident_key: str,
        kind: str,
        active: bool,
        details: dict[str, Any],
    ) -> str | None:
        """Change the incident inside one write transaction holding the writer lock."""
        if not active and self.open_alert(incident_key) is None:
            return None  # the common quiet case writes nothing (and audits nothing)

        def body(tx: WriteTx) -> str:
            now = utcnow()
            row = _open_row(tx.session, incident_key)
            if row is None and not active:
                raise _Unchanged  # closed by a concurrent run since the look above
            if row is None:
                tx.session.add(
                    AlertRow(
                        incident_key=incident_key,
                        kind=kind,
                        first_at=now,
                        last_at=now,
                        open=True,
                        details=details,
                    )
                )
                state = "opened"
            elif active:
                row.last_at = now
                row.details = {**row.details, "latest": details}
                state = "ongoing"
            else:
                row.last_at = now
                row.open = False
                row.details = {**row.details, "recovered": details}
                state = "closed"
            tx.details = {"incident": incident_key, "state": state}
            return state

        try:
            return self.store.transact(actor, "monitor.alert", f"alert:{incident_key}", body)
        except _Unchanged:
            return None


def _open_row(session: Session, incident_key: str) -> AlertRow | None:
    query = select(AlertRow).where(AlertRow.incident_key == incident_key)
    return session.scalars(query.where(AlertRow.open.is_(True))).first()


_SUMMARY_COLUMNS = (
    MonitoringReportRow.id,
    MonitoringReportRow.environment,
    MonitoringReportRow.model,
    MonitoringReportRow.version,
    MonitoringReportRow.revision,
    MonitoringReportRow.window_start,
    MonitoringReportRow.window_end,
    MonitoringReportRow.rows,
    MonitoringReportRow.labelled_rows,
    MonitoringReportRow.verdict,
    MonitoringReportRow.message,
    MonitoringReportRow.summary,
    MonitoringReportRow.created_at,
    MonitoringReportRow.actor,
)


def _report(row: MonitoringReportRow) -> MonitoringReport:
    return MonitoringReport(
        id=row.id,
        environment=row.environment,
        model=row.model,
        version=row.version,
        revision=row.revision,
        window_start=row.window_start,
        window_end=row.window_end,
        rows=row.rows,
        labelled_rows=row.labelled_rows,
        verdict=row.verdict,
        message=row.message,
        reference=row.reference,
        drift=row.drift,
        performance=row.performance,
        quality=row.quality,
        content_hash=row.content_hash,
        created_at=row.created_at,
        actor=row.actor,
    )


def _alert(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        incident_key=row.incident_key,
        kind=row.kind,
        first_at=row.first_at,
        last_at=row.last_at,
        open=row.open,
        details=dict(row.details),
    )
