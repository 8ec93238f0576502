"""A backend without a batch write records finished lazy runs one audited change at a time."""

from __future__ import annotations

from pathlib import Path

from memory_records import InMemoryRunRecords

from conveyor.artifacts import open_artifact_store
from conveyor.core import Actor
from conveyor.tracking import RunTracker


def test_the_default_batch_write_is_start_metrics_and_finish_per_run(tmp_path: Path) -> None:
    records = InMemoryRunRecords()
    artifacts = open_artifact_store(str(tmp_path / "artifacts"))
    tracker = RunTracker(None, artifacts, actor=Actor("t"), root=tmp_path, records=records)
    study = tracker.start_run("study", kind="tune")
    trial = tracker.start_run(
        "study/trial-0", kind="trial", parent_id=study.id, tags={"trial": 0}, lazy=True
    )
    tracker.log_metric(trial.id, "objective", 2.0)
    ended = tracker.finish_run(trial.id, "completed", wall_s=0.5, tags={"state": "pruned"})
    assert [e.target for e in records.events] == [f"run:{study.id}"]  # not written yet
    tracker.finish_run(study.id, "completed")
    actions = [e.action for e in records.events if e.target == f"run:{trial.id}"]
    assert actions == ["run.start", "run.metrics", "run.finish"]
    stored = tracker.get(trial.id)
    assert stored == ended
    assert stored.tags == {"trial": 0, "state": "pruned"}
    assert stored.environment == study.environment
    assert [p.value for p in tracker.metrics(trial.id)] == [2.0]
