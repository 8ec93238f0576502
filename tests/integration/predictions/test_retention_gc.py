"""``Workspace.gc`` applies ``predictions.retention`` before collecting objects."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conveyor.core import utcnow
from conveyor.predictions import PredictionRecord
from conveyor.workspace import Workspace


def _log_old_and_new(ws: Workspace) -> tuple[str, str]:
    now = utcnow()

    def rec(request_id: str, age: timedelta) -> PredictionRecord:
        return PredictionRecord(request_id, now - age, "churn", 1, {"x": 1}, 0, 1.0)

    old = ws.predictions.write([rec("old-1", timedelta(days=40)), rec("old-2", timedelta(days=35))])
    straddling = ws.predictions.write(
        [rec("old-3", timedelta(days=31)), rec("new-1", timedelta(days=2))]
    )
    ws.predictions.write([rec("new-2", timedelta(hours=1))])
    ws.predictions.feedback({"old-1": 1, "new-1": 0})
    return old.partitions[0].content_hash, straddling.partitions[0].content_hash


def test_rows_older_than_the_retention_go_and_newer_rows_stay(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: p}\npredictions: {retention: 30d}\n")
    with Workspace.open(tmp_path, env={}) as ws:
        old, straddling = _log_old_and_new(ws)
        result = ws.gc(grace=timedelta(0))
        assert sorted(ws.predictions.read()["request_id"]) == ["new-1", "new-2"]
        assert set(ws.predictions.records.labels(["old-1", "new-1"])) == {"new-1"}
        assert {old, straddling} <= set(result.removed)
        assert not ws.artifacts.exists(old)
        actions = [e.action for e in ws.audit_log()]
        assert actions.index("predictions.retention") < actions.index("artifacts.gc")
        (event,) = [e for e in ws.audit_log() if e.action == "predictions.retention"]
        assert (event.details["rows"], event.details["partitions"]) == (3, 2)


def test_without_a_retention_nothing_is_removed_from_the_log(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: p}\n")
    with Workspace.open(tmp_path, env={}) as ws:
        old, _ = _log_old_and_new(ws)
        ws.gc(grace=timedelta(0))
        assert len(ws.predictions.read()) == 5
        assert ws.artifacts.exists(old)
        assert [e for e in ws.audit_log() if e.action == "predictions.retention"] == []


def test_a_dry_run_removes_no_predictions(tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: p}\npredictions: {retention: 30d}\n")
    with Workspace.open(tmp_path, env={}) as ws:
        _log_old_and_new(ws)
        ws.gc(grace=timedelta(0), dry_run=True)
        assert len(ws.predictions.read()) == 5
