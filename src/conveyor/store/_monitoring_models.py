"""The monitoring tables: stored monitoring reports and alert incidents.

Owned by :mod:`conveyor.monitoring`; declared here so ``Base.metadata`` holds the whole schema
and migrations ``0007`` and ``0014`` can be checked against it. A report row keeps the summary
a dashboard or a trigger needs (verdict, per-feature drift, performance, data quality) and
points at the full report JSON in the artifact store by ``content_hash``. An alert row is one
incident: opened when a threshold is first crossed, touched while it stays crossed, closed on
recovery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.store._models import Base


class MonitoringReportRow(Base):
    """One monitoring report over a window of one environment's prediction log."""

    __tablename__ = "monitoring_reports"
    __table_args__ = (
        Index("ix_monitoring_reports_environment_created_at", "environment", "created_at"),
        Index("ix_monitoring_reports_model_version", "model", "version"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(128))
    model: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    # Lineage to the deployment the window was served by (None: no deployment record).
    revision: Mapped[int | None] = mapped_column(Integer)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(Integer)
    labelled_rows: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    drift: Mapped[dict[str, Any]] = mapped_column(JSON)
    performance: Mapped[dict[str, Any]] = mapped_column(JSON)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The part of ``drift`` and ``performance`` a dashboard reads (per-feature verdicts,
    # the metric and its interval, no histograms), so listing 200 reports parses kilobytes,
    # not megabytes. Written with the report; migration 0014 filled it for older rows.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))


class AlertRow(Base):
    """One alert incident; at most one open row per ``incident_key`` at a time."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_incident_key_open", "incident_key", "open"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    incident_key: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(32))
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    open: Mapped[bool] = mapped_column(Boolean)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
