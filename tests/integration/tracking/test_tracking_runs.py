"""Run lifecycle, lookups, params, datasets, outputs, caching and stale-run reaping."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor, utcnow
from conveyor.errors import ConveyorError
from conveyor.store import MetadataStore
from conveyor.tracking import (
    AmbiguousRunError,
    Heartbeat,
    OutputRecord,
    RunNotFoundError,
    RunTracker,
)


def test_start_and_finish_record_the_run_and_are_audited(
    tracker: RunTracker, store: MetadataStore
) -> None:
    run = tracker.start_run("training", kind="pipeline", params={"lr": 0.1}, executor="local")
    assert run.status == "running"
    assert run.kind == "pipeline"
    assert len(run.id) == 32
    assert run.environment is not None
    assert run.environment["packages_hash"]
    assert run.code_version is None  # the project folder is not a git repository
    done = tracker.finish_run(run.id, "completed", wall_s=1.5, cpu_s=0.5)
    assert (done.status, done.wall_s, done.cpu_s) == ("completed", 1.5, 0.5)
    assert done.ended_at is not None
    assert done.ended_at >= done.started_at
    assert tracker.get(run.id) == done
    actions = [e.action for e in store.audit_log(target_prefix=f"run:{run.id}")]
    assert actions == ["run.start", "run.finish"]
    assert store.verify_audit().ok


def test_child_runs_copy_the_parent_capture_and_are_listed(tracker: RunTracker) -> None:
    parent = tracker.start_run("training", kind="pipeline")
    a = tracker.start_run("prepare", kind="step", parent_id=parent.id, cache_key="a" * 64)
    b = tracker.start_run("train", kind="step", parent_id=parent.id, status="pending")
    assert a.environment == parent.environment
    assert a.code_version == parent.code_version
    assert [c.id for c in tracker.children(parent.id)] == [a.id, b.id]
    assert {r.id for r in tracker.list(parent_id=parent.id)} == {a.id, b.id}
    assert [r.id for r in tracker.list(kind="pipeline")] == [parent.id]
    assert [r.id for r in tracker.list(status="pending")] == [b.id]


def test_list_is_newest_first_and_respects_the_limit(tracker: RunTracker) -> None:
    ids = [tracker.start_run(f"p{i}", kind="pipeline", capture=False).id for i in range(3)]
    assert [r.id for r in tracker.list()] == ids[::-1]
    assert [r.id for r in tracker.list(limit=2)] == ids[:0:-1]


def test_unknown_parent_kind_or_status_is_refused(tracker: RunTracker) -> None:
    with pytest.raises(RunNotFoundError, match="No run has id 'nope000'"):
        tracker.start_run("s", kind="step", parent_id="nope000")
    with pytest.raises(ConveyorError, match="Run kind 'job' is not one of"):
        tracker.start_run("s", kind="job")
    with pytest.raises(ConveyorError, match="Run status 'done' is not one of"):
        tracker.start_run("s", kind="step", status="done")


def test_get_accepts_a_unique_prefix_and_lists_candidates_when_ambiguous(
    tracker: RunTracker,
) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    assert tracker.get(run.id[:8]).id == run.id
    assert tracker.get(run.id.upper()).id == run.id
    # Two runs whose ids share a prefix, recorded straight through the records.
    for suffix in ("01", "02"):
        tracker.records.create_run(Actor("tester"), replace(run, id=f"abcdef{suffix}" * 4))
    with pytest.raises(AmbiguousRunError, match="'abcdef' matches 2 runs: abcdef01") as info:
        tracker.get("abcdef")
    assert sorted(info.value.fields["candidates"]) == ["abcdef01" * 4, "abcdef02" * 4]
    with pytest.raises(RunNotFoundError, match="at least 6 characters") as missing:
        tracker.get("abc")
    assert missing.value.hint is not None
    assert "conveyor runs list" in missing.value.hint


def test_log_params_merges_and_refuses_non_json_values(tracker: RunTracker) -> None:
    run = tracker.start_run("p", kind="pipeline", params={"lr": 0.1, "depth": 3}, capture=False)
    tracker.log_params(run.id, {"lr": 0.2, "model": "rf"})
    assert tracker.get(run.id).params == {"lr": 0.2, "depth": 3, "model": "rf"}
    with pytest.raises(ConveyorError, match="not JSON-able"):
        tracker.log_params(run.id, {"path": Path("x")})


def test_datasets_outputs_and_artifacts_are_recorded_with_references(
    tracker: RunTracker, store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path
) -> None:
    run = tracker.start_run("train", kind="step", capture=False)
    tracker.record_dataset(run.id, "iris", 3, "c" * 64)
    assert tracker.datasets(run.id) == [{"name": "iris", "version": 3, "content_hash": "c" * 64}]
    infos = [artifacts.put_bytes(f"value {i}".encode()) for i in range(11)]
    records = [
        OutputRecord(f"output_{i}", info.hash, "json", 1, "builtins.int", info.size, {"t": i})
        for i, info in enumerate(infos)
    ]
    tracker.record_outputs(run.id, records[::-1])
    assert tracker.outputs(run.id) == records  # output_2 before output_10
    file = tmp_path / "report.txt"
    file.write_text("accuracy 0.9")
    info = tracker.log_artifact(run.id, file)
    assert tracker.artifacts(run.id) == [
        {"name": "report.txt", "hash": info.hash, "size": info.size, "media_type": "text/plain"}
    ]
    assert {i.hash for i in infos} | {info.hash} <= store.referenced_hashes()


def test_find_cached_skips_runs_whose_outputs_were_deleted(
    tracker: RunTracker, artifacts: ArtifactStore
) -> None:
    key = "k" * 64
    assert tracker.find_cached(key) is None
    old_info = artifacts.put_bytes(b"old")
    old = tracker.start_run("train", kind="step", cache_key=key, capture=False)
    tracker.record_outputs(old.id, [OutputRecord("output", old_info.hash, "bytes", 1, "bytes", 3)])
    tracker.finish_run(old.id, "completed")
    new_info = artifacts.put_bytes(b"new")
    new = tracker.start_run("train", kind="step", cache_key=key, capture=False)
    tracker.record_outputs(new.id, [OutputRecord("output", new_info.hash, "bytes", 1, "bytes", 3)])
    tracker.finish_run(new.id, "completed")
    failed = tracker.start_run("train", kind="step", cache_key=key, capture=False)
    tracker.finish_run(failed.id, "failed", error="Traceback ...")
    hit = tracker.find_cached(key)
    assert hit is not None
    assert hit.id == new.id
    artifacts.delete(new_info.hash)
    hit = tracker.find_cached(key)
    assert hit is not None
    assert hit.id == old.id
    artifacts.delete(old_info.hash)
    assert tracker.find_cached(key) is None


def test_resume_sets_a_failed_run_running_again(tracker: RunTracker) -> None:
    run = tracker.start_run("p", kind="pipeline", capture=False)
    tracker.finish_run(run.id, "failed", error="boom")
    resumed = tracker.resume_run(run.id)
    assert (resumed.status, resumed.error, resumed.ended_at) == ("running", None, None)


def _age(tracker: RunTracker, run_id: str, seconds: float) -> None:
    """Make a running run's last heartbeat ``seconds`` old."""
    tracker.records.heartbeat(run_id, utcnow() - timedelta(seconds=seconds))


@pytest.fixture
def tracker5(store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path) -> RunTracker:
    """A tracker whose runs are stale after 5 seconds without a heartbeat."""
    return RunTracker(store, artifacts, actor=Actor("tester"), root=tmp_path, heartbeat_timeout_s=5)


def test_reap_stale_fails_a_run_with_an_old_heartbeat(
    tracker5: RunTracker, store: MetadataStore
) -> None:
    tracker = tracker5
    dead = tracker.start_run("p", kind="pipeline", capture=False)
    dead_step = tracker.start_run("s", kind="step", parent_id=dead.id, capture=False)
    alive = tracker.start_run("q", kind="pipeline", capture=False)
    alive_step = tracker.start_run("slow", kind="step", parent_id=alive.id, capture=False)
    _age(tracker, dead.id, 6)
    _age(tracker, dead_step.id, 6)
    _age(tracker, alive_step.id, 6)  # a long step is alive while its pipeline beats
    assert sorted(tracker.reap_stale()) == sorted([dead.id, dead_step.id])
    reaped = tracker.get(dead.id)
    assert reaped.status == "failed"
    assert reaped.error is not None
    assert reaped.error.startswith("process died: no heartbeat since ")
    assert f"pid {reaped.pid}" in reaped.error
    assert tracker.get(alive_step.id).status == "running"
    assert tracker.reap_stale() == []
    events = store.audit_log(action="run.reap")
    assert len(events) == 1
    assert sorted(events[0].details["runs"]) == sorted([dead.id, dead_step.id])


def test_list_reaps_stale_runs_and_a_heartbeat_keeps_a_run_alive(tracker5: RunTracker) -> None:
    tracker = tracker5
    run = tracker.start_run("p", kind="pipeline", capture=False)
    _age(tracker, run.id, 6)
    with Heartbeat(tracker, run.id, interval_s=60) as beat:
        assert beat.beats == 1
        assert beat.last_error is None
        assert tracker.list()[0].status == "running"
    _age(tracker, run.id, 6)
    assert tracker.list()[0].status == "failed"


def test_the_default_heartbeat_timeout_is_the_setting_default(tracker: RunTracker) -> None:
    assert tracker.heartbeat_timeout_s == 60.0
    run = tracker.start_run("p", kind="pipeline", capture=False)
    _age(tracker, run.id, 30)
    assert tracker.reap_stale() == []
    assert tracker.reap_stale(10.0) == [run.id]


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_a_heartbeat_timeout_that_is_not_a_positive_number_is_refused(
    store: MetadataStore, artifacts: ArtifactStore, tmp_path: Path, bad: float
) -> None:
    with pytest.raises(ConveyorError, match="is not a positive number of seconds"):
        RunTracker(store, artifacts, actor=Actor("t"), root=tmp_path, heartbeat_timeout_s=bad)
