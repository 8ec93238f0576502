"""The interface of the monitoring records: stored reports and alert incidents.

:func:`~conveyor.monitoring.monitor_run` holds the rules (what a report says, when an
incident opens and closes, what is announced); a backend keeps the reports it is given,
with the reference to each report's full JSON in the artifact store, and opens, touches
and closes incidents atomically.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

from conveyor.core import Actor
from conveyor.monitoring._report import Alert, MonitoringReport, ReportSummary


class BaseMonitoringRecords(abc.ABC):
    """Where monitoring reports and alert incidents live.

    Report ids grow with each stored report, so "newest" means "largest id". Values come
    back as they were written: the JSON parts of a report (``reference``, ``drift``,
    ``performance``, ``quality``) and an alert's ``details`` compare equal to what was
    given. Times come back timezone-aware, in UTC.

    Thread safety: an implementation may be shared by threads and processes; writers are
    serialised, so two concurrent runs never both open the same incident.
    """

    @abc.abstractmethod
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
        """Store one monitoring report and reference its full JSON in the artifact store.

        Atomic: the report, the reference that keeps artifact ``content_hash`` from garbage
        collection (owner ``monitoring_report:<id>``) and one audit event ``monitor.report``
        on target ``env:<environment>`` (signed by ``actor``, details ``report`` id,
        ``verdict`` and ``model`` as ``name@version``) are written together, or nothing is.

        Args:
            actor: Who made the report (recorded as its ``actor``; signs the audit event).
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
            reference: The reference the window was compared with.
            drift: Per-feature drift, prediction drift, share and dataset verdict.
            performance: Metric, confidence interval, label count, series.
            quality: Per-column data quality of the window.
            content_hash: Hash of the full report JSON, already in the artifact store.

        Returns:
            The stored report, with a new id larger than every earlier report's and
            ``created_at`` set to now; ``files`` and ``alerts`` are empty.
        """

    @abc.abstractmethod
    def reports(self, environment: str | None = None, *, limit: int = 50) -> list[MonitoringReport]:
        """Return the newest ``limit`` reports, oldest first.

        Args:
            environment: Only reports of this environment (``None``: of every environment).
            limit: How many of the newest reports to return (0 or less: none).

        Returns:
            The reports in id order; empty when none is stored.
        """

    @abc.abstractmethod
    def report_summaries(
        self, environment: str | None = None, *, model: str | None = None, limit: int = 200
    ) -> list[ReportSummary]:
        """Return the summaries of the newest ``limit`` reports, oldest first.

        A summary is what a dashboard shows of a report (:class:`ReportSummary`): its
        fields, each feature's test, score, threshold and verdict, and the metric with its
        interval; never the histograms, test details or data quality, so reading many is
        cheap. ``ReportSummary.of(records.report(id))`` equals the summary listed here.

        Args:
            environment: Only reports of this environment (``None``: of every environment).
            model: Only reports of this model (``None``: of every model).
            limit: How many of the newest matching reports to return (0 or less: none).

        Returns:
            The summaries in id order; empty when no report matches.
        """

    @abc.abstractmethod
    def report(self, report_id: int) -> MonitoringReport | None:
        """Return the whole report ``report_id``.

        Returns:
            The report as :meth:`reports` would list it, or ``None`` when no report has
            that id.
        """

    @abc.abstractmethod
    def first_report(self, environment: str, model: str, version: int) -> MonitoringReport | None:
        """Return the oldest report of model ``version`` in ``environment`` over some rows.

        Reports of an empty window (``rows == 0``) are skipped: the first report with
        traffic is the version's prediction baseline.

        Returns:
            That report, or ``None`` when there is none.
        """

    @abc.abstractmethod
    def open_alert(self, incident_key: str) -> Alert | None:
        """Return the open incident ``incident_key``, or ``None`` when none is open."""

    @abc.abstractmethod
    def open_alerts(self) -> list[Alert]:
        """Return every open incident, oldest (smallest id) first."""

    @abc.abstractmethod
    def update_incident(
        self,
        actor: Actor,
        *,
        incident_key: str,
        kind: str,
        active: bool,
        details: dict[str, Any],
    ) -> str | None:
        """Open, touch or close the incident ``incident_key`` as ``active`` says.

        One atomic step, in which looking for the open incident and changing it cannot be
        interleaved with another writer's: at most one incident per key is open, and of two
        concurrent callers with ``active`` true, exactly one sees ``"opened"``.

        - ``active`` and none open: a new incident of ``kind`` opens with ``details``,
          ``first_at`` and ``last_at`` now: ``"opened"``.
        - ``active`` and one open: its ``last_at`` becomes now and its details gain
          ``"latest": details``: ``"ongoing"``.
        - not ``active`` and one open: it closes, ``last_at`` now, its details gain
          ``"recovered": details``: ``"closed"``.
        - not ``active`` and none open: nothing is written, not even an audit event:
          ``None``.

        Every change writes one audit event ``monitor.alert`` on target
        ``alert:<incident_key>`` (signed by ``actor``, details ``incident`` and ``state``)
        in the same transaction.

        Returns:
            ``"opened"``, ``"ongoing"``, ``"closed"`` or ``None``.
        """
