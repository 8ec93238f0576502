"""The contract of :class:`~conveyor.tracking.BaseRunRecords`, as a test suite.

Subclass :class:`RunRecordsContract` and provide the fixtures ``records`` (a fresh, empty
implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the audit
events recorded so far, oldest first; events recorded before the test, such as a store's
own, are left alone).

This module holds the lifecycle of runs (create, finish, resume, heartbeat, reap); the
queries are in ``_tracking_queries``, what runs log in ``_tracking_logs``, and the sample
runs and outputs in ``_tracking_samples`` (re-exported here).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from conveyor.core import Actor
from conveyor.testing.records._tracking_logs import RunLogTests
from conveyor.testing.records._tracking_queries import RunQueryTests
from conveyor.testing.records._tracking_samples import _T0, _id
from conveyor.testing.records._tracking_samples import AuditLog as AuditLog  # noqa: PLC0414 - re-exported
from conveyor.testing.records._tracking_samples import sample_output as sample_output  # noqa: PLC0414 - re-exported
from conveyor.testing.records._tracking_samples import sample_run as sample_run  # noqa: PLC0414 - re-exported
from conveyor.tracking import BaseRunRecords, Run, RunNotFoundError


class RunRecordsContract(RunQueryTests, RunLogTests):
    """Every behaviour :class:`~conveyor.tracking.BaseRunRecords` promises."""

    @pytest.fixture
    def records(self) -> BaseRunRecords:
        """A fresh, empty implementation (the subclass provides it)."""
        raise NotImplementedError

    @pytest.fixture
    def audit_log(self) -> AuditLog:
        """Returns the audit events recorded so far, oldest first (the subclass provides it)."""
        raise NotImplementedError

    @pytest.fixture
    def run(self, records: BaseRunRecords, actor: Actor) -> Run:
        """A recorded pipeline run."""
        run = sample_run()
        records.create_run(actor, run)
        return run

    # -- runs ------------------------------------------------------------------------

    def test_a_created_run_comes_back_exactly_and_is_audited(
        self, records: BaseRunRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        run = sample_run(wall_s=1 / 3, tags={"weight": 0.1 + 0.2})
        records.create_run(actor, run)
        assert records.get_run(run.id) == run
        (event,) = audit_log()[before:]
        assert (event.action, event.target, event.actor) == (
            "run.start",
            f"run:{run.id}",
            actor.name,
        )
        assert event.details == {
            "name": "training",
            "kind": "pipeline",
            "parent_id": None,
            "status": "running",
        }

    def test_a_child_run_names_its_parent(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        step = sample_run(_id(2), name="train", kind="step", parent_id=run.id, status="pending")
        records.create_run(actor, step)
        assert records.get_run(step.id).parent_id == run.id
        assert audit_log()[-1].details["parent_id"] == run.id

    def test_a_run_with_an_unknown_parent_is_not_created(
        self, records: BaseRunRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        orphan = sample_run(_id(2), kind="step", parent_id=_id(99))
        with pytest.raises(RunNotFoundError, match=_id(99)):
            records.create_run(actor, orphan)
        with pytest.raises(RunNotFoundError):
            records.get_run(orphan.id)
        assert len(audit_log()) == before

    def test_get_run_of_an_unknown_id_raises(self, records: BaseRunRecords) -> None:
        with pytest.raises(RunNotFoundError, match="nope"):
            records.get_run("nope")

    def test_finish_run_records_the_outcome_in_one_audited_change(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        ended = _T0 + timedelta(minutes=5)
        outputs = [sample_output("output_0"), sample_output("output_1", hash="1" * 64)]
        done = records.finish_run(
            actor,
            run.id,
            status="completed",
            ended_at=ended,
            wall_s=300.25,
            cpu_s=12.5,
            tags={"state": "pruned", "team": "fraud"},
            outputs=outputs,
            peak_rss_mb=512.75,
        )
        expected = replace(
            run,
            status="completed",
            ended_at=ended,
            wall_s=300.25,
            cpu_s=12.5,
            tags={"team": "fraud", "state": "pruned"},
            peak_rss_mb=512.75,
        )
        assert done == expected
        assert records.get_run(run.id) == expected
        assert sorted(records.outputs(run.id), key=lambda o: o.name) == outputs
        event = audit_log()[-1]
        assert (event.action, event.target) == ("run.finish", f"run:{run.id}")
        assert event.details == {
            "status": "completed",
            "cached_from": None,
            "tags": {"state": "pruned", "team": "fraud"},
            "outputs": {"output_0": "f" * 64, "output_1": "1" * 64},
        }

    def test_finish_run_replaces_error_and_cached_from(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        other = sample_run(_id(2))
        records.create_run(actor, other)
        failed = records.finish_run(
            actor, run.id, status="failed", ended_at=_T0, error="Traceback: boom"
        )
        assert (failed.status, failed.error, failed.tags) == ("failed", "Traceback: boom", run.tags)
        cached = records.finish_run(
            actor, run.id, status="cached", ended_at=_T0, cached_from=other.id
        )
        assert (cached.error, cached.cached_from) == (None, other.id)
        assert audit_log()[-1].details == {"status": "cached", "cached_from": other.id}

    def test_finish_run_of_an_unknown_run_raises_and_records_nothing(
        self, records: BaseRunRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        with pytest.raises(RunNotFoundError, match=_id(99)):
            records.finish_run(
                actor, _id(99), status="completed", ended_at=_T0, outputs=[sample_output()]
            )
        assert records.outputs(_id(99)) == []
        assert len(audit_log()) == before

    def test_resume_run_sets_the_run_running_again(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        records.finish_run(actor, run.id, status="failed", ended_at=_T0, error="killed")
        later = _T0 + timedelta(hours=1)
        resumed = records.resume_run(actor, run.id, at=later, host="worker-2", pid=7)
        expected = replace(run, heartbeat_at=later, host="worker-2", pid=7)
        assert resumed == expected
        assert records.get_run(run.id) == expected
        event = audit_log()[-1]
        assert (event.action, event.target, event.details) == ("run.resume", f"run:{run.id}", {})
        with pytest.raises(RunNotFoundError):
            records.resume_run(actor, _id(99), at=later, host="h", pid=1)

    def test_a_heartbeat_moves_heartbeat_at_and_is_not_audited(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        beat = _T0 + timedelta(seconds=30)
        records.heartbeat(run.id, beat)
        assert records.get_run(run.id) == replace(run, heartbeat_at=beat)
        records.heartbeat(_id(99), beat)  # an unknown run: nothing happens
        assert len(audit_log()) == before

    def test_reap_stale_fails_runs_not_seen_since_the_cutoff(
        self, records: BaseRunRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        old, recent = _T0, _T0 + timedelta(minutes=10)
        dead = sample_run(_id(1), heartbeat_at=old)
        dead_step = sample_run(_id(2), kind="step", parent_id=dead.id, heartbeat_at=old)
        alive = sample_run(_id(3), heartbeat_at=recent)
        # A long step is alive while its pipeline beats; a pending one counts from its start.
        slow_step = sample_run(_id(4), kind="step", parent_id=alive.id, heartbeat_at=old)
        pending = sample_run(_id(5), status="pending", heartbeat_at=None, started_at=old)
        done = sample_run(_id(6), status="completed", heartbeat_at=old)
        for run in (dead, dead_step, alive, slow_step, pending, done):
            records.create_run(actor, run)
        cutoff, now = old + timedelta(minutes=1), recent + timedelta(seconds=5)
        reaped = records.reap_stale(actor, cutoff=cutoff, at=now)
        assert sorted(reaped) == [_id(1), _id(2), _id(5)]
        failed = records.get_run(_id(2))
        assert (failed.status, failed.ended_at) == ("failed", now)
        assert failed.error is not None
        assert failed.error.startswith("process died: no heartbeat since 2026-03-01T12:00:00")
        assert failed.error.endswith("(host worker-1, pid 4242)")
        assert [records.get_run(i).status for i in (_id(3), _id(4), _id(6))] == [
            "running",
            "running",
            "completed",
        ]
        event = audit_log()[-1]
        assert (event.action, event.target) == ("run.reap", "runs")
        assert sorted(event.details["runs"]) == [_id(1), _id(2), _id(5)]
        events = len(audit_log())
        assert records.reap_stale(actor, cutoff=cutoff, at=now) == []
        assert len(audit_log()) == events  # nothing reaped, nothing written
