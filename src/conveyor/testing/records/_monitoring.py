"""The contract of :class:`~conveyor.monitoring.BaseMonitoringRecords`, as a test suite.

Subclass :class:`MonitoringRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes), ``audit_log`` (a callable returning the
audit events recorded so far, oldest first) and ``referenced_hashes`` (a callable
returning the artifact hashes the backend keeps from garbage collection).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.core import Actor
from conveyor.monitoring._records_base import BaseMonitoringRecords
from conveyor.monitoring._report import (
    FeatureDriftSummary,
    MonitoringReport,
    PerformanceSummary,
    ReportSummary,
)
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]
ReferencedHashes = Callable[[], set[str]]
_T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def report_fields(**fields: Any) -> dict[str, Any]:
    """The keyword arguments of a typical report (a drifting window), overridden by ``fields``."""
    values: dict[str, Any] = {
        "environment": "production",
        "model": "churn",
        "version": 1,
        "revision": 3,
        "window_start": _T0,
        "window_end": _T0 + timedelta(hours=1),
        "rows": 500,
        "labelled_rows": 120,
        "verdict": "drift",
        "message": "2 of 5 features drifted",
        "reference": {"datasets": ["orders@2"], "metric": "accuracy", "registered": 0.91},
        "drift": {
            "features": {"age": {"score": 0.1 / 3, "drifted": True, "test": "ks"}},
            "share": 0.4,
            "drifted": ["age", "plan"],
            "dataset_drift": True,
            "prediction": {"profile": {"counts": [1, 2, 3]}},
        },
        "performance": {"metric": "accuracy", "value": 0.87, "ci": [0.81, 0.92], "labels": 120},
        "quality": {"age": {"missing": 0.0, "out_of_range": 2}, "plan": {"unseen": ["gold"]}},
        "content_hash": "a" * 64,
    }
    values.update(fields)
    return values


class MonitoringRecordsContract:
    """Every behaviour :class:`BaseMonitoringRecords` documents, one test each."""

    # -- reports ----------------------------------------------------------------------

    @pytest.mark.parametrize("verdict", ["ok", "drift", "degraded", "insufficient"])
    def test_a_stored_report_comes_back_as_given(
        self, records: BaseMonitoringRecords, actor: Actor, verdict: str
    ) -> None:
        given = report_fields(verdict=verdict)
        before = datetime.now(UTC)
        stored = records.add_report(actor, **given)
        assert isinstance(stored, MonitoringReport)
        for name, value in given.items():
            assert getattr(stored, name) == value, name
        assert stored.actor == actor.name
        assert stored.created_at.tzinfo is not None
        assert stored.created_at >= before - timedelta(seconds=5)
        assert stored.files == {}
        assert stored.alerts == ()
        (again,) = records.reports("production")
        assert again == stored

    def test_an_empty_window_is_stored_with_no_times(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        fields = report_fields(
            window_start=None, window_end=None, rows=0, labelled_rows=0, revision=None
        )
        stored = records.add_report(actor, **fields)
        assert (stored.window_start, stored.window_end, stored.revision) == (None, None, None)
        assert records.reports()[0] == stored

    def test_report_ids_grow_and_history_is_the_newest_oldest_first(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        ids = [records.add_report(actor, **report_fields(rows=n)).id for n in range(1, 5)]
        assert ids == sorted(ids)
        assert len(set(ids)) == 4
        assert [r.id for r in records.reports()] == ids
        assert [r.id for r in records.reports(limit=2)] == ids[-2:]
        assert records.reports(limit=0) == []

    def test_history_of_one_environment_leaves_the_others_out(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        prod = records.add_report(actor, **report_fields())
        staging = records.add_report(actor, **report_fields(environment="staging"))
        assert [r.id for r in records.reports("production")] == [prod.id]
        assert [r.id for r in records.reports("staging")] == [staging.id]
        assert [r.id for r in records.reports(None)] == [prod.id, staging.id]
        assert records.reports("canary") == []

    def test_storing_a_report_is_audited_as_monitor_report(
        self, records: BaseMonitoringRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        stored = records.add_report(actor, **report_fields(version=4))
        event = audit_log()[-1]
        assert (event.action, event.target, event.actor) == (
            "monitor.report",
            "env:production",
            actor.name,
        )
        assert event.details == {"report": stored.id, "verdict": "drift", "model": "churn@4"}

    def test_a_stored_report_keeps_its_json_artifact_referenced(
        self,
        records: BaseMonitoringRecords,
        actor: Actor,
        referenced_hashes: ReferencedHashes,
    ) -> None:
        assert "b" * 64 not in referenced_hashes()
        records.add_report(actor, **report_fields(content_hash="b" * 64))
        assert "b" * 64 in referenced_hashes()

    def test_the_first_report_is_the_oldest_of_that_version_with_traffic(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        assert records.first_report("production", "churn", 1) is None
        records.add_report(actor, **report_fields(rows=0, window_start=None, window_end=None))
        records.add_report(actor, **report_fields(version=2))
        records.add_report(actor, **report_fields(environment="staging"))
        first = records.add_report(actor, **report_fields(rows=10))
        records.add_report(actor, **report_fields(rows=20))
        found = records.first_report("production", "churn", 1)
        assert found == first
        assert records.first_report("production", "other", 1) is None

    # -- summaries and single reports --------------------------------------------------

    def test_a_summary_keeps_the_verdicts_and_metric_without_the_histograms(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        drift = {
            "features": {
                "age": {
                    "feature": "age",
                    "test": "ks",
                    "statistic": "p_value",
                    "score": 0.1 / 3,
                    "threshold": 0.01,
                    "drifted": False,
                    "details": {"ks_statistic": 0.2},
                    "overlay": {"edges": [0.0, 1.0], "reference": [1.0], "window": [1.0]},
                },
                "plan": {"test": "psi", "statistic": "distance", "score": 7, "drifted": True},
                "broken": "not a result",
            },
            "drifted": ["plan"],
            "share": 0.5,
            "dataset_drift": True,
            "prediction": {"profile": {"counts": [1, 2, 3]}},
        }
        performance = {
            "metric": "accuracy",
            "value": 0.87,
            "ci": [0.81, 0.92],
            "labels": 120,
            "reference": 0.91,
            "series": [{"value": 0.8, "labels": 60}],
        }
        stored = records.add_report(
            actor, **report_fields(drift=drift, performance=performance, verdict="drift")
        )
        (summary,) = records.report_summaries()
        assert isinstance(summary, ReportSummary)
        for name in (
            "id",
            "environment",
            "model",
            "version",
            "revision",
            "window_start",
            "window_end",
            "rows",
            "labelled_rows",
            "verdict",
            "message",
            "created_at",
            "actor",
        ):
            assert getattr(summary, name) == getattr(stored, name), name
        assert summary.ref == "churn@1"
        assert summary.features == {
            "age": FeatureDriftSummary("ks", "p_value", 0.1 / 3, 0.01, False),
            "plan": FeatureDriftSummary("psi", "distance", 7.0, None, True),
        }
        assert (summary.drifted, summary.share, summary.dataset_drift) == (("plan",), 0.5, True)
        assert summary.performance == PerformanceSummary("accuracy", 0.87, (0.81, 0.92), 120, 0.91)
        assert summary == ReportSummary.of(stored)

    def test_a_report_with_no_drift_or_metric_has_an_empty_summary(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        fields = report_fields(drift={}, performance={}, rows=0, verdict="insufficient")
        stored = records.add_report(actor, **fields)
        (summary,) = records.report_summaries("production")
        assert summary.features == {}
        assert (summary.drifted, summary.share, summary.dataset_drift) == ((), None, None)
        assert summary.performance == PerformanceSummary()
        assert summary == ReportSummary.of(stored)

    def test_summaries_are_the_newest_matching_reports_oldest_first(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        made = [
            records.add_report(actor, **report_fields(environment=env, model=model, rows=n))
            for n, (env, model) in enumerate(
                [
                    ("production", "churn"),
                    ("staging", "churn"),
                    ("production", "upsell"),
                    ("production", "churn"),
                    ("staging", "upsell"),
                ]
            )
        ]
        ids = [r.id for r in made]
        assert [s.id for s in records.report_summaries()] == ids
        assert [s.id for s in records.report_summaries(limit=2)] == ids[-2:]
        assert records.report_summaries(limit=0) == []
        assert [s.id for s in records.report_summaries("production")] == [ids[0], ids[2], ids[3]]
        assert [s.id for s in records.report_summaries(model="upsell")] == [ids[2], ids[4]]
        assert [s.id for s in records.report_summaries("production", model="churn", limit=1)] == [
            ids[3]
        ]
        assert records.report_summaries("canary") == []
        assert records.report_summaries(model="other") == []
        assert records.report_summaries() == [ReportSummary.of(r) for r in made]

    def test_one_report_is_found_by_its_id(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        first = records.add_report(actor, **report_fields(rows=1))
        second = records.add_report(actor, **report_fields(environment="staging", rows=2))
        assert records.report(first.id) == first
        assert records.report(second.id) == second
        assert records.report(second.id + 1) is None
        assert records.report(0) is None
        assert records.report(-1) is None

    # -- alert incidents --------------------------------------------------------------

    def test_nothing_open_and_nothing_active_writes_nothing(
        self, records: BaseMonitoringRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        state = records.update_incident(
            actor, incident_key="production:churn:drift", kind="drift", active=False, details={}
        )
        assert state is None
        assert records.open_alert("production:churn:drift") is None
        assert records.open_alerts() == []
        assert len(audit_log()) == before

    def test_an_active_condition_opens_one_incident(
        self, records: BaseMonitoringRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        details = {"report": 1, "drifted": ["age"], "value": 0.5}
        state = records.update_incident(
            actor, incident_key="production:churn:drift", kind="drift", active=True, details=details
        )
        assert state == "opened"
        alert = records.open_alert("production:churn:drift")
        assert alert is not None
        assert (alert.incident_key, alert.kind, alert.open, alert.details) == (
            "production:churn:drift",
            "drift",
            True,
            details,
        )
        assert alert.first_at == alert.last_at
        assert alert.first_at.tzinfo is not None
        assert records.open_alerts() == [alert]
        event = audit_log()[-1]
        assert (event.action, event.target) == ("monitor.alert", "alert:production:churn:drift")
        assert event.details == {"incident": "production:churn:drift", "state": "opened"}

    def test_a_condition_that_stays_active_touches_the_open_incident(
        self, records: BaseMonitoringRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        key = "production:churn:degraded"
        records.update_incident(
            actor, incident_key=key, kind="degraded", active=True, details={"r": 1}
        )
        opened = records.open_alert(key)
        state = records.update_incident(
            actor, incident_key=key, kind="degraded", active=True, details={"r": 2}
        )
        assert state == "ongoing"
        touched = records.open_alert(key)
        assert touched is not None
        assert opened is not None
        assert touched.id == opened.id
        assert touched.details == {"r": 1, "latest": {"r": 2}}
        assert touched.last_at >= opened.last_at
        assert touched.first_at == opened.first_at
        assert audit_log()[-1].details == {"incident": key, "state": "ongoing"}

    def test_recovery_closes_the_incident_and_a_new_one_can_open(
        self, records: BaseMonitoringRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        key = "production:churn:drift"
        records.update_incident(
            actor, incident_key=key, kind="drift", active=True, details={"r": 1}
        )
        first = records.open_alert(key)
        state = records.update_incident(
            actor, incident_key=key, kind="drift", active=False, details={"r": 2}
        )
        assert state == "closed"
        assert records.open_alert(key) is None
        assert records.open_alerts() == []
        assert audit_log()[-1].details == {"incident": key, "state": "closed"}
        again = records.update_incident(
            actor, incident_key=key, kind="drift", active=True, details={"r": 3}
        )
        assert again == "opened"
        reopened = records.open_alert(key)
        assert reopened is not None
        assert first is not None
        assert reopened.id != first.id
        assert reopened.details == {"r": 3}

    def test_open_alerts_are_listed_oldest_first(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        keys = ["staging:a:drift", "production:b:degraded", "production:a:drift"]
        for key in keys:
            records.update_incident(actor, incident_key=key, kind="drift", active=True, details={})
        records.update_incident(
            actor, incident_key=keys[1], kind="degraded", active=False, details={}
        )
        assert [a.incident_key for a in records.open_alerts()] == [keys[0], keys[2]]

    def test_concurrent_runs_open_an_incident_once(
        self, records: BaseMonitoringRecords, actor: Actor
    ) -> None:
        states: list[str | None] = []
        lock = threading.Lock()
        start = threading.Barrier(4)

        def run() -> None:
            start.wait()
            state = records.update_incident(
                actor, incident_key="production:churn:drift", kind="drift", active=True, details={}
            )
            with lock:
                states.append(state)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(map(str, states)) == ["ongoing", "ongoing", "ongoing", "opened"]
        assert len(records.open_alerts()) == 1
