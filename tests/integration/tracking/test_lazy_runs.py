"""Lazy runs: short child runs written once they finished, in batches, with every field kept."""

from __future__ import annotations

import pytest

from conveyor.store import MetadataStore
from conveyor.tracking import OutputRecord, RunNotFoundError, RunTracker, SqlRunRecords

_SAME = ("kind", "parent_id", "status", "params", "tags", "code_version", "environment")


def _output(tracker: RunTracker, text: bytes) -> OutputRecord:
    info = tracker._artifacts.put_bytes(text)
    return OutputRecord("output", info.hash, "json", 1, "int", info.size, {"k": 1})


def test_finished_lazy_runs_are_written_in_one_audited_batch_with_every_field(
    tracker: RunTracker, store: MetadataStore
) -> None:
    parent = tracker.start_run("study", kind="tune")
    eager = tracker.start_run("t-0", kind="trial", parent_id=parent.id, params={"x": 1})
    lazies = [
        tracker.start_run(f"t-{i}", kind="trial", parent_id=parent.id, params={"x": 1}, lazy=True)
        for i in (1, 2)
    ]
    for run in (eager, *lazies):
        tracker.log_metric(run.id, "objective", 0.5)
        tracker.finish_run(run.id, "completed", wall_s=0.1, tags={"state": "pruned"})
    events = len(store.audit_log())
    with pytest.raises(RunNotFoundError):  # kept in memory so far
        SqlRunRecords(store).get_run(lazies[0].id)

    tracker.flush()

    assert len(store.audit_log()) == events + 1
    batch = store.audit_log()[-1]
    assert (batch.action, sorted(batch.details["runs"])) == (
        "run.record",
        sorted(r.id for r in lazies),
    )
    assert store.verify_audit().ok
    expected = tracker.get(eager.id)
    for run in lazies:
        stored = SqlRunRecords(store).get_run(run.id)
        assert {f: getattr(stored, f) for f in _SAME} == {f: getattr(expected, f) for f in _SAME}
        assert stored.tags == {"state": "pruned"}
        assert stored.wall_s == 0.1
        assert stored.ended_at is not None
        assert [(p.key, p.value) for p in tracker.metrics(run.id)] == [("objective", 0.5)]


def test_reads_see_lazy_runs_without_a_flush(tracker: RunTracker) -> None:
    parent = tracker.start_run("pipeline", kind="pipeline")
    done = tracker.start_run("a", kind="step", parent_id=parent.id, lazy=True)
    tracker.finish_run(done.id, "completed")
    running = tracker.start_run("b", kind="step", parent_id=parent.id, lazy=True)
    assert [(c.name, c.status) for c in tracker.children(parent.id)] == [
        ("a", "completed"),
        ("b", "running"),
    ]
    assert tracker.get(running.id).status == "running"
    assert tracker.finish_run(running.id, "failed", error="boom").status == "failed"
    assert tracker.get(running.id).error == "boom"


def test_a_lazy_run_is_written_before_its_metrics_params_or_outputs(
    tracker: RunTracker, store: MetadataStore
) -> None:
    parent = tracker.start_run("pipeline", kind="pipeline")
    run = tracker.start_run("train", kind="step", parent_id=parent.id, lazy=True)
    tracker.log_metric(run.id, "loss", 1.0)
    tracker.flush(run.id)  # a buffer flush needs the run recorded
    tracker.log_params(run.id, {"lr": 0.1})
    tracker.finish_run(run.id, "completed")
    actions = [e.action for e in store.audit_log(target_prefix=f"run:{run.id}")]
    assert actions == ["run.start", "run.metrics", "run.params", "run.finish"]
    assert tracker.get(run.id).params == {"lr": 0.1}


def test_cached_lazy_runs_keep_their_outputs_and_origin(tracker: RunTracker) -> None:
    parent = tracker.start_run("pipeline", kind="pipeline")
    original = tracker.start_run("step", kind="step", parent_id=parent.id, cache_key="c" * 64)
    output = _output(tracker, b"1")
    tracker.finish_run(original.id, "completed", outputs=[output])
    cached = tracker.start_run(
        "step", kind="step", parent_id=parent.id, cache_key="c" * 64, status="cached", lazy=True
    )
    tracker.finish_run(cached.id, "cached", cached_from=original.id, outputs=[output])
    tracker.finish_run(parent.id, "completed")  # writes waiting runs first
    stored = tracker.get(cached.id)
    assert (stored.status, stored.cached_from, stored.cache_key) == (
        "cached",
        original.id,
        "c" * 64,
    )
    assert tracker.outputs(cached.id) == [output]
    assert tracker.find_cached("c" * 64) == tracker.get(original.id)


def test_a_run_naming_a_missing_origin_is_reported_and_the_others_are_kept(
    tracker: RunTracker, store: MetadataStore
) -> None:
    parent = tracker.start_run("pipeline", kind="pipeline")
    good = tracker.start_run("a", kind="step", parent_id=parent.id, lazy=True)
    tracker.finish_run(good.id, "completed")
    bad = tracker.start_run("b", kind="step", parent_id=parent.id, status="cached", lazy=True)
    tracker.finish_run(bad.id, "cached", cached_from="f" * 32)
    with pytest.raises(RunNotFoundError, match="f" * 32):
        tracker.flush()
    assert SqlRunRecords(store).get_run(good.id).status == "completed"
    with pytest.raises(RunNotFoundError):
        SqlRunRecords(store).get_run(bad.id)
    tracker.flush()  # nothing left waiting
    assert store.verify_audit().ok
