"""Reading and writing monitoring reports and alert incidents in the metadata store.

A report's full JSON goes to the artifact store first (content-addressed, referenced from
the row so garbage collection keeps it); the row is then written in one audited
transaction (``monitor.report``). Alert incidents follow "at most once per incident": the
check for an open incident and its opening happen in one write transaction, and writers
are serialised database-wide, so two concurrent runs cannot both open (and announce) it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, utcnow
from conveyor.monitoring._report import MonitoringReport
from conveyor.store import AlertRow, ArtifactRefRow, MetadataStore, MonitoringReportRow, WriteTx


def save_report(
    store: MetadataStore,
    artifacts: ArtifactStore,
    actor: Actor,
    *,
    environment: str,
    model: str,
    version: int,
    revision: int | None,
    window: tuple[datetime | None, datetime | None],
    body: dict[str, Any],
    reference: dict[str, Any],
) -> MonitoringReport:
    """Store the report JSON as an artifact and index it as a ``monitoring_reports`` row."""
    document = {
        "environment": environment,
        "model": model,
        "version": version,
        "revision": revision,
        "reference": reference,
        **body,
    }
    data = json.dumps(document, sort_keys=True, default=str, allow_nan=False).encode()
    digest = artifacts.put_bytes(data).hash

    def write(tx: WriteTx) -> MonitoringReport:
        row = MonitoringReportRow(
            environment=environment,
            model=model,
            version=version,
            revision=revision,
            window_start=window[0],
            window_end=window[1],
            rows=int(body["rows"]),
            labelled_rows=int(body["labelled_rows"]),
            verdict=str(body["verdict"]),
            message=str(body["message"]),
            reference=reference,
            drift=body["drift"],
            performance=body["performance"],
            quality=body["quality"],
            content_hash=digest,
            created_at=utcnow(),
            actor=actor.name,
        )
        tx.session.add(row)
        tx.session.flush()
        tx.session.add(ArtifactRefRow(hash=digest, owner=f"monitoring_report:{row.id}"))
        tx.details = {"report": row.id, "verdict": row.verdict, "model": f"{model}@{version}"}
        return MonitoringReport.from_row(row)

    return store.transact(actor, "monitor.report", f"env:{environment}", write)


def latest_report_in(store: MetadataStore, environment: str | None) -> MonitoringReport | None:
    """The newest stored report (of ``environment``, or of any environment)."""
    history = report_history(store, environment, limit=1)
    return history[-1] if history else None


def report_history(
    store: MetadataStore, environment: str | None, *, limit: int = 50
) -> list[MonitoringReport]:
    """The newest ``limit`` reports, oldest first."""
    query = select(MonitoringReportRow)
    if environment is not None:
        query = query.where(MonitoringReportRow.environment == environment)
    query = query.order_by(MonitoringReportRow.id.desc()).limit(limit)
    with store.read() as session:
        rows = list(session.scalars(query))
    return [MonitoringReport.from_row(row) for row in reversed(rows)]


def first_report_of(
    store: MetadataStore, environment: str, model: str, version: int
) -> MonitoringReport | None:
    """The oldest report of a model version in an environment (its prediction baseline)."""
    query = (
        select(MonitoringReportRow)
        .where(MonitoringReportRow.environment == environment)
        .where(MonitoringReportRow.model == model)
        .where(MonitoringReportRow.version == version)
        .where(MonitoringReportRow.rows > 0)
        .order_by(MonitoringReportRow.id)
        .limit(1)
    )
    with store.read() as session:
        row = session.scalars(query).first()
        return None if row is None else MonitoringReport.from_row(row)


def update_incident(
    store: MetadataStore,
    actor: Actor,
    *,
    incident_key: str,
    kind: str,
    active: bool,
    details: dict[str, Any],
    announce: Callable[[str, dict[str, Any]], None],
) -> str | None:
    """Open, touch or close the incident ``incident_key``; announce only opening and closing.

    Args:
        incident_key: Identifies the incident, e.g. ``"production:churn:drift"``.
        kind: ``"drift"`` or ``"degraded"``.
        active: Whether the condition holds in the newest report.
        details: What to record (report id, verdict, drifted features, metric).
        announce: Called after the commit with ``("monitor.alert" | "monitor.recovered",
            payload)``; never called when nothing changed.

    Returns:
        ``"opened"``, ``"closed"``, ``"ongoing"`` or ``None`` (no incident, none needed).
    """
    if not active and not _has_open(store, incident_key):
        return None  # the common quiet case writes nothing (and audits nothing)

    def body(tx: WriteTx) -> str | None:
        now = utcnow()
        query = select(AlertRow).where(AlertRow.incident_key == incident_key)
        row = tx.session.scalars(query.where(AlertRow.open.is_(True))).first()
        if row is None and not active:
            return None
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
            tx.details = {"incident": incident_key, "state": "opened"}
            return "opened"
        row.last_at = now
        if active:
            row.details = {**row.details, "latest": details}
            tx.details = {"incident": incident_key, "state": "ongoing"}
            return "ongoing"
        row.open = False
        row.details = {**row.details, "recovered": details}
        tx.details = {"incident": incident_key, "state": "closed"}
        return "closed"

    state = store.transact(actor, "monitor.alert", f"alert:{incident_key}", body)
    payload = {"incident": incident_key, "kind": kind, **details}
    if state == "opened":
        announce("monitor.alert", payload)
    elif state == "closed":
        announce("monitor.recovered", payload)
    return state


def _has_open(store: MetadataStore, incident_key: str) -> bool:
    query = select(AlertRow.id).where(AlertRow.incident_key == incident_key)
    with store.read() as session:
        return session.scalars(query.where(AlertRow.open.is_(True))).first() is not None


def open_alerts(store: MetadataStore) -> list[dict[str, Any]]:
    """Every open incident, oldest first."""
    query = select(AlertRow).where(AlertRow.open.is_(True)).order_by(AlertRow.id)
    with store.read() as session:
        return [
            {
                "id": row.id,
                "incident_key": row.incident_key,
                "kind": row.kind,
                "first_at": row.first_at,
                "last_at": row.last_at,
                "details": row.details,
            }
            for row in session.scalars(query)
        ]
