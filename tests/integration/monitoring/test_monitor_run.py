"""monitor_run end to end on a real workspace: stored reports, lineage, files, alerts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from monitor_support import NOW, Recorder, log_traffic, open_project, table

from conveyor.monitoring import MonitoringError, latest_report, monitor_run, open_alerts


def test_report_flags_exactly_the_shifted_features_and_keeps_lineage(tmp_path: Path) -> None:
    with open_project(tmp_path / "p") as ws:
        window = table(2_000, seed=5)
        window["x2"] += 1.0
        window["x3"] *= 3.0
        log_traffic(ws, window, prefix="a")
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert report.drift["drifted"] == ["x2", "x3"]
        assert report.verdict == "drift"
        assert (report.model, report.version, report.revision) == ("churn", 1, 1)
        assert report.reference["datasets"] == ["train@1"]
        assert report.rows == 2_000
        assert Path(report.files["html"]).read_text(encoding="utf-8").count("<script") >= 1
        assert "x2 | wasserstein" in Path(report.files["markdown"]).read_text(encoding="utf-8")
        assert ws.artifacts.get_bytes(report.content_hash)
        stored = latest_report(ws, "production")
        assert stored is not None
        assert stored.id == report.id
        assert stored.drift == report.drift
        events = [event.action for event in ws.audit_log()]
        assert "monitor.report" in events


def test_late_labels_given_twice_use_the_later_one(tmp_path: Path) -> None:
    with open_project(tmp_path / "p") as ws:
        ids = log_traffic(ws, table(400, seed=6), prefix="b")
        frame = ws.predictions.read(environment="production")
        truth = dict(zip(frame["request_id"], frame["prediction"].tolist(), strict=True))
        ws.predictions.feedback({rid: 1 - truth[rid] for rid in ids[:200]})  # all wrong
        ws.predictions.feedback({rid: truth[rid] for rid in ids[:200]})  # corrected: right
        ws.predictions.feedback({"nobody": 1})  # unknown request id: kept, not fatal
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert report.labelled_rows == 200
        assert report.performance["labels"] == 200
        assert report.performance["value"] == 1.0
        assert report.performance["ci"][0] > 0.95


def test_empty_window_is_stored_as_insufficient(tmp_path: Path) -> None:
    with open_project(tmp_path / "p") as ws:
        log_traffic(ws, table(100, seed=1), prefix="c", end=NOW - timedelta(days=3))
        report = monitor_run(ws, "production", window="1h", notifier=Recorder(), now=lambda: NOW)
        assert report.verdict == "insufficient"
        assert report.message == "The window holds no predictions."
        assert report.window_start is None


def test_row_window_reads_the_newest_rows(tmp_path: Path) -> None:
    with open_project(tmp_path / "p") as ws:
        log_traffic(ws, table(300, seed=2), prefix="d")
        report = monitor_run(ws, "production", window=120, notifier=Recorder(), now=lambda: NOW)
        assert report.rows == 120


def test_environment_without_deployment_needs_a_model(tmp_path: Path) -> None:
    with open_project(tmp_path / "p") as ws:
        with pytest.raises(MonitoringError, match="'staging' has no deployment") as info:
            monitor_run(ws, "staging", notifier=Recorder())
        assert "--model NAME@REF" in str(info.value.hint)
        log_traffic(ws, table(200, seed=3), prefix="e", environment=None)
        report = monitor_run(
            ws, "staging", model="churn@1", window="1h", notifier=Recorder(), now=lambda: NOW
        )
        assert (report.rows, report.revision) == (200, None)


def test_alert_is_sent_once_per_incident_and_recovery_closes_it(
    tmp_path: Path, metadata_url: str
) -> None:
    recorder = Recorder()
    with open_project(tmp_path / "p", metadata_url) as ws:
        drifted = table(1_500, seed=8)
        drifted["x1"] += 2.0
        log_traffic(ws, drifted, prefix="f", end=NOW)
        first = monitor_run(ws, "production", window="1h", notifier=recorder, now=lambda: NOW)
        second = monitor_run(ws, "production", window="1h", notifier=recorder, now=lambda: NOW)
        assert (first.verdict, second.verdict) == ("drift", "drift")
        assert [event for event, _ in recorder.events] == ["monitor.alert"]
        assert recorder.events[0][1]["incident"] == "production:churn:drift"
        assert recorder.events[0][1]["drifted"] == ["x1"]
        assert [a["incident_key"] for a in open_alerts(ws)] == ["production:churn:drift"]

        later = NOW + timedelta(hours=2)
        log_traffic(ws, table(1_500, seed=9), prefix="g", end=later)
        healed = monitor_run(ws, "production", window="1h", notifier=recorder, now=lambda: later)
        assert healed.verdict == "ok"
        assert [event for event, _ in recorder.events] == ["monitor.alert", "monitor.recovered"]
        assert open_alerts(ws) == []

        again = NOW + timedelta(hours=4)
        log_traffic(ws, drifted, prefix="h", end=again)
        monitor_run(ws, "production", window="1h", notifier=recorder, now=lambda: again)
        assert [event for event, _ in recorder.events][-1] == "monitor.alert"
        assert len(recorder.events) == 3
