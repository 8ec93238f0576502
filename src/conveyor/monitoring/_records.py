"""Storing and reading monitoring reports and alert incidents, through the records interface.

A report's full JSON goes to the artifact store first (content-addressed, so storing it
twice is harmless); the report is then recorded with its reference to that JSON in one
audited step (``monitor.report``). Alert incidents follow "at most once per incident":
:meth:`BaseMonitoringRecords.update_incident` opens an incident atomically, and only an
opening or a closing is announced, after it is recorded.

Each function takes a workspace (its records, :meth:`Workspace.records`), any
:class:`BaseMonitoringRecords`, or a metadata store (its SQL records).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor
from conveyor.monitoring._records_base import BaseMonitoringRecords
from conveyor.monitoring._report import MonitoringReport
from conveyor.monitoring._sql import SqlMonitoringRecords
from conveyor.store import MetadataStore
from conveyor.workspace import Workspace

#: Where monitoring records are kept: a workspace's records, a backend, or a metadata
#: store's SQL records.
RecordsSource = Workspace | BaseMonitoringRecords | MetadataStore


def monitoring_records(source: RecordsSource) -> BaseMonitoringRecords:
    """The records ``source`` names.

    A workspace's own (:meth:`Workspace.records`, remote or SQL), ``source`` itself if it
    is records, else the SQL records of the metadata store ``source``.

    Example:
        >>> monitoring_records(ws).open_alerts()  # doctest: +SKIP
        []
    """
    if isinstance(source, Workspace):
        return source.records(BaseMonitoringRecords, SqlMonitoringRecords)
    if isinstance(source, BaseMonitoringRecords):
        return source
    return SqlMonitoringRecords(source)


def save_report(
    source: RecordsSource,
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
    """Store the report JSON as an artifact, then record the report pointing at it."""
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
    return monitoring_records(source).add_report(
        actor,
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
    )


def latest_report_in(source: RecordsSource, environment: str | None) -> MonitoringReport | None:
    """The newest stored report (of ``environment``, or of any environment)."""
    history = report_history(source, environment, limit=1)
    return history[-1] if history else None


def report_history(
    source: RecordsSource, environment: str | None, *, limit: int = 50
) -> list[MonitoringReport]:
    """The newest ``limit`` reports, oldest first.

    Example:
        >>> [r.verdict for r in report_history(ws, "production", limit=3)]  # doctest: +SKIP
        ['ok', 'ok', 'drift']
    """
    return monitoring_records(source).reports(environment, limit=limit)


def first_report_of(
    source: RecordsSource, environment: str, model: str, version: int
) -> MonitoringReport | None:
    """The oldest report of a model version in an environment (its prediction baseline)."""
    return monitoring_records(source).first_report(environment, model, version)


def update_incident(
    source: RecordsSource,
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
        source: The workspace, monitoring records or metadata store.
        actor: Who records the change.
        incident_key: Identifies the incident, e.g. ``"production:churn:drift"``.
        kind: ``"drift"`` or ``"degraded"``.
        active: Whether the condition holds in the newest report.
        details: What to record (report id, verdict, drifted features, metric).
        announce: Called after the change is recorded with ``("monitor.alert" |
            "monitor.recovered", payload)``; never called when nothing changed.

    Returns:
        ``"opened"``, ``"closed"``, ``"ongoing"`` or ``None`` (no incident, none needed).
    """
    state = monitoring_records(source).update_incident(
        actor, incident_key=incident_key, kind=kind, active=active, details=details
    )
    payload = {"incident": incident_key, "kind": kind, **details}
    if state == "opened":
        announce("monitor.alert", payload)
    elif state == "closed":
        announce("monitor.recovered", payload)
    return state


def open_alerts(source: RecordsSource) -> list[dict[str, Any]]:
    """Every open incident, oldest first.

    Returns:
        One dict per incident: ``id``, ``incident_key``, ``kind``, ``first_at``, ``last_at``
        (datetimes) and ``details``.

    Example:
        >>> [a["incident_key"] for a in open_alerts(ws)]  # doctest: +SKIP
        ['production:churn:drift']
    """
    return [
        {
            "id": alert.id,
            "incident_key": alert.incident_key,
            "kind": alert.kind,
            "first_at": alert.first_at,
            "last_at": alert.last_at,
            "details": alert.details,
        }
        for alert in monitoring_records(source).open_alerts()
    ]
