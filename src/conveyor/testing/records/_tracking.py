"""The contract of :class:`~conveyor.tracking.BaseRunRecords`, as a test suite.

Subclass :class:`RunRecordsContract` and provide the fixtures ``records`` (a fresh, empty
implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the audit
events recorded so far, oldest first; events recorded before the test, such as a store's
own, are left alone).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.core import Actor
from conveyor.store import AuditEvent
from conveyor.tracking import (
    BaseRunRecords,
    MetricValue,
    OutputRecord,
    Run,
    RunNotFoundError,
)

AuditLog = Callable[[], list[AuditEvent]]
_T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def sample_run(run_id: str = "a" * 32, **fields: Any) -> Run:
    """A running pipeline run started at a fixed time, with ``fields`` replaced."""
    values: dict[str, Any] = {
        "name": "training",
        "kind": "pipeline",
        "parent_id": None,
        "status": "running",
        "pipeline_ref": "pipelines:training",
        "params": {"lr": 0.1, "layers": [64, 32], "model": {"kind": "rf", "depth": None}},
        "tags": {"team": "churn"},
        "code_version": {"commit": "c" * 40, "dirty": True, "diff_hash": "d" * 64},
        "environment": {"python": "3.12.3", "platform": "Linux", "packages_hash": "e" * 64},
        "executor": "local",
        "cache_key": None,
        "cached_from": None,
        "error": None,
        "started_at": _T0,
        "ended_at": None,
        "heartbeat_at": _T0,
        "host": "worker-1",
        "pid": 4242,
        "wall_s": None,
        "cpu_s": None,
        "created_by": "contract-tester",
        **fields,
    }
    return Run(id=run_id, **values)


def sample_output(name: str = "output", **fields: Any) -> OutputRecord:
    """A step output with materializer metadata, with ``fields`` replaced."""
    values: dict[str, Any] = {
        "hash": "f" * 64,
        "materializer": "pandas",
        "materializer_version": 2,
        "type_name": "pandas.DataFrame",
        "size": 2048,
        "meta": {"columns": ["a", "b"], "rows": 10},
        **fields,
    }
    return OutputRecord(name=name, **values)


def _id(n: int) -> str:
    return f"{n:032x}"


class RunRecordsContract:
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

    def test_runs_with_prefix_are_ordered_by_id_and_limited(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        for run_id in ("abcdef02" * 4, "abcdef01" * 4, "abcdee00" * 4, "bbcdef00" * 4):
            records.create_run(actor, sample_run(run_id))
        assert [r.id for r in records.runs_with_prefix("abcdef", 10)] == [
            "abcdef01" * 4,
            "abcdef02" * 4,
        ]
        assert [r.id for r in records.runs_with_prefix("abcd", 2)] == [
            "abcdee00" * 4,
            "abcdef01" * 4,
        ]
        assert records.runs_with_prefix("abcdef03", 10) == []

    def test_list_runs_filters_orders_and_limits(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        parent = sample_run(_id(1))
        records.create_run(actor, parent)
        steps = [
            sample_run(
                _id(10 + i),
                name=f"s{i}",
                kind="step",
                parent_id=parent.id,
                status="completed" if i % 2 else "running",
                cache_key=("k" * 64) if i < 2 else None,
                pipeline_ref=None,
                started_at=_T0 + timedelta(seconds=i + 1),
            )
            for i in range(4)
        ]
        # Same start time as the last step: the id breaks the tie.
        late = sample_run(_id(9), name="other", started_at=_T0 + timedelta(seconds=4))
        for run in [*steps, late]:
            records.create_run(actor, run)
        newest = [r.id for r in records.list_runs()]
        assert newest == [_id(9), _id(13), _id(12), _id(11), _id(10), _id(1)]
        oldest = [r.id for r in records.list_runs(newest_first=False)]
        assert oldest == [_id(1), _id(10), _id(11), _id(12), _id(9), _id(13)]
        assert [r.id for r in records.list_runs(limit=2)] == [_id(9), _id(13)]
        assert records.list_runs(limit=0) == []
        by_parent = records.list_runs(parent_id=parent.id, newest_first=False)
        assert by_parent == steps
        assert [r.id for r in records.list_runs(kind="pipeline")] == [_id(9), _id(1)]
        assert [r.id for r in records.list_runs(status="completed")] == [_id(13), _id(11)]
        assert [r.id for r in records.list_runs(cache_key="k" * 64)] == [_id(11), _id(10)]
        assert [r.id for r in records.list_runs(pipeline_ref="pipelines:training")] == [
            _id(9),
            _id(1),
        ]
        both = records.list_runs(kind="step", status="running", cache_key="k" * 64)
        assert [r.id for r in both] == [_id(10)]
        assert records.list_runs(parent_id=_id(99)) == []

    def test_list_runs_pages_top_level_runs(self, records: BaseRunRecords, actor: Actor) -> None:
        tops = [
            sample_run(_id(i), name=f"p{i}", started_at=_T0 + timedelta(seconds=i))
            for i in range(1, 6)
        ]
        for run in tops:
            records.create_run(actor, run)
        for i, parent in enumerate(tops):
            step = sample_run(
                _id(20 + i),
                kind="step",
                parent_id=parent.id,
                pipeline_ref=None,
                started_at=parent.started_at + timedelta(milliseconds=1),
            )
            records.create_run(actor, step)
        newest = [_id(i) for i in range(5, 0, -1)]
        assert [r.id for r in records.list_runs(top_level=True)] == newest
        pages = [
            [r.id for r in records.list_runs(top_level=True, offset=offset, limit=2)]
            for offset in (0, 2, 4, 6)
        ]
        assert pages == [newest[:2], newest[2:4], newest[4:], []]
        everything = [r.id for r in records.list_runs()]
        assert len(everything) == 10
        assert [r.id for r in records.list_runs(offset=8)] == everything[8:]
        assert [r.id for r in records.list_runs(offset=-3, limit=1)] == everything[:1]

    def test_search_runs_filters_pages_and_counts(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        parent = sample_run(_id(1), name="Nightly 100%_run")
        records.create_run(actor, parent)
        for i in range(5):
            records.create_run(
                actor,
                sample_run(
                    _id(10 + i),
                    name=f"train-{i}",
                    kind="step",
                    parent_id=parent.id,
                    status="failed" if i == 4 else "completed",
                    pipeline_ref=None,
                    started_at=_T0 + timedelta(seconds=i + 1),
                ),
            )
        records.create_run(actor, sample_run(_id(2), name="study", kind="tune", pipeline_ref=None))
        page = records.search_runs(kinds=["pipeline", "tune"])
        assert ([r.id for r in page.runs], page.total) == ([_id(1), _id(2)], 2)
        assert page.runs[0] == parent
        steps = records.search_runs(kinds=["step"], limit=2, offset=1)
        assert [r.id for r in steps.runs] == [_id(13), _id(12)]
        assert (steps.total, steps.offset, steps.limit) == (5, 1, 2)
        assert records.search_runs(kinds=["step"], offset=4).runs[0].id == _id(10)
        beyond = records.search_runs(kinds=["step"], offset=50)
        assert (beyond.runs, beyond.total) == ([], 5)
        assert records.search_runs(offset=-3, limit=1).runs[0].id == _id(14)
        assert records.search_runs(kinds=[]).total == 0
        assert records.search_runs(status="failed").runs[0].id == _id(14)
        named = records.search_runs(name_contains="TRAIN-", status="completed")
        assert named.total == 4
        # LIKE wildcards are plain characters.
        assert [r.id for r in records.search_runs(name_contains="100%_").runs] == [_id(1)]
        assert records.search_runs(name_contains="0%x").total == 0
        assert records.search_runs(pipeline_ref="pipelines:training").total == 1
        children = records.search_runs(parent_ids=[parent.id], sort="name", descending=False)
        assert [r.name for r in children.runs] == [f"train-{i}" for i in range(5)]
        assert records.search_runs(parent_ids=[]).total == 0
        with pytest.raises(ValueError, match="bogus"):
            records.search_runs(sort="bogus")
        with pytest.raises(ValueError, match="metric:"):
            records.search_runs(sort="metric:")

    def test_search_runs_sorts_by_columns_with_missing_values_last(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        durations = {_id(1): 3.0, _id(2): None, _id(3): 1.0, _id(4): 3.0}
        for n, run_id in enumerate(durations):
            records.create_run(
                actor,
                sample_run(
                    run_id,
                    name="bcad"[n],
                    status=("running", "failed", "completed", "failed")[n],
                    wall_s=durations[run_id],
                    started_at=_T0 + timedelta(seconds=n),
                ),
            )

        def ids(sort: str, descending: bool) -> list[str]:
            page = records.search_runs(sort=sort, descending=descending)
            return [r.id for r in page.runs]

        assert ids("started_at", True) == [_id(4), _id(3), _id(2), _id(1)]
        assert ids("started_at", False) == [_id(1), _id(2), _id(3), _id(4)]
        assert ids("name", False) == [_id(3), _id(1), _id(2), _id(4)]
        assert ids("name", True) == [_id(4), _id(2), _id(1), _id(3)]
        # Equal values: newest first when descending, oldest first when ascending.
        assert ids("status", False) == [_id(3), _id(2), _id(4), _id(1)]
        assert ids("duration", True) == [_id(4), _id(1), _id(3), _id(2)]
        assert ids("duration", False) == [_id(3), _id(1), _id(4), _id(2)]

    def test_search_runs_sorts_by_a_metric_of_the_run_or_its_steps(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        for n in range(1, 6):
            records.create_run(actor, sample_run(_id(n), started_at=_T0 + timedelta(seconds=n)))
        # Run 1 logs auc itself; its last value counts.
        records.log_metrics(actor, _id(1), [("auc", 0.9, 0, _T0), ("auc", 0.5, 1, _T0)])
        # Run 2's step logs it.
        step = sample_run(_id(20), kind="step", parent_id=_id(2), pipeline_ref=None)
        records.create_run(actor, step)
        records.log_metrics(actor, step.id, [("auc", 0.8, None, _T0)])
        # Run 3's step is cached from run 2's step: the value it reused counts.
        cached = sample_run(
            _id(30),
            kind="step",
            parent_id=_id(3),
            status="cached",
            cached_from=step.id,
            pipeline_ref=None,
        )
        records.create_run(actor, cached)
        # Run 4 logged NaN (no value to sort by), run 5 another key only.
        records.log_metrics(actor, _id(4), [("auc", math.nan, None, _T0)])
        records.log_metrics(actor, _id(5), [("loss", 0.1, None, _T0)])
        top = records.search_runs(kinds=["pipeline"], sort="metric:auc")
        assert [r.id for r in top.runs][:3] == [_id(3), _id(2), _id(1)]
        assert {r.id for r in top.runs[3:]} == {_id(4), _id(5)}
        low = records.search_runs(kinds=["pipeline"], sort="metric:auc", descending=False)
        assert [r.id for r in low.runs][:3] == [_id(1), _id(2), _id(3)]
        paged = records.search_runs(kinds=["pipeline"], sort="metric:auc", offset=1, limit=1)
        assert ([r.id for r in paged.runs], paged.total) == ([_id(2)], 5)
        assert records.search_runs(sort="metric:nothing", kinds=["pipeline"]).total == 5

    def test_search_runs_sorts_by_a_parameter_numbers_before_text(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        values: list[Any] = [10, 2.5, "abc", None, 7]
        for n, value in enumerate(values, start=1):
            params = {} if value is None else {"lr": value, "other": 1}
            records.create_run(actor, sample_run(_id(n), params=params))
        ascending = records.search_runs(sort="param:lr", descending=False)
        assert [r.id for r in ascending.runs] == [_id(2), _id(5), _id(1), _id(3), _id(4)]
        descending = records.search_runs(sort="param:lr")
        assert [r.id for r in descending.runs][:3] == [_id(1), _id(5), _id(2)]
        assert descending.runs[-1].id == _id(4)

    def test_dataset_runs_lists_the_runs_of_each_version_newest_first(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        for n in range(1, 5):
            records.create_run(actor, sample_run(_id(n), started_at=_T0 + timedelta(seconds=n)))
        for n, version in ((1, 1), (2, 2), (3, 2), (4, 2)):
            records.add_dataset(actor, _id(n), name="sessions", version=version, content_hash="h")
        records.add_dataset(actor, _id(1), name="other", version=2, content_hash="h")
        found = records.dataset_runs("sessions", [1, 2, 3])
        assert {v: [r.id for r in runs] for v, runs in found.items()} == {
            1: [_id(1)],
            2: [_id(4), _id(3), _id(2)],
            3: [],
        }
        assert found[1][0] == records.get_run(_id(1))
        limited = records.dataset_runs("sessions", [2], limit=2)
        assert [r.id for r in limited[2]] == [_id(4), _id(3)]
        assert records.dataset_runs("sessions", []) == {}
        assert records.dataset_runs("nothing", [1]) == {1: []}

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

    # -- what runs log ---------------------------------------------------------------

    def test_merge_params_keeps_other_keys(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        merged = records.merge_params(actor, run.id, {"lr": 0.2, "seed": 7})
        expected = {**run.params, "lr": 0.2, "seed": 7}
        assert merged.params == expected
        assert records.get_run(run.id).params == expected
        event = audit_log()[-1]
        assert (event.action, event.details) == ("run.params", {"keys": ["lr", "seed"]})
        with pytest.raises(RunNotFoundError):
            records.merge_params(actor, _id(99), {"lr": 1})

    def test_metric_batches_are_kept_in_logged_order_with_nan_and_infinities(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        first: list[MetricValue] = [
            ("loss", 0.5, 0, _T0),
            ("acc", 1 / 3, None, _T0),
            ("loss", math.nan, 1, _T0 + timedelta(seconds=1)),
        ]
        second: list[MetricValue] = [
            ("loss", math.inf, 2, _T0 + timedelta(seconds=2)),
            ("loss", -math.inf, -3, _T0 + timedelta(seconds=3)),
        ]
        records.log_metrics(actor, run.id, first)
        records.log_metrics(actor, run.id, second)
        points = records.metrics(run.id)
        assert [(p.key, p.step, p.at) for p in points] == [
            (k, s, a) for k, _, s, a in first + second
        ]
        values = [p.value for p in points]
        assert values[:2] == [0.5, 1 / 3]
        assert math.isnan(values[2])
        assert values[3:] == [math.inf, -math.inf]
        assert [p.step for p in records.metrics(run.id, "loss")] == [0, 1, 2, -3]
        assert records.metrics(run.id, "missing") == []
        events = [e for e in audit_log() if e.action == "run.metrics"]
        assert [(e.target, e.details) for e in events] == [
            (f"run:{run.id}", {"count": 3}),
            (f"run:{run.id}", {"count": 2}),
        ]

    def test_a_metric_batch_for_an_unknown_run_keeps_nothing(
        self, records: BaseRunRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        with pytest.raises(RunNotFoundError, match=_id(99)):
            records.log_metrics(actor, _id(99), [("loss", 0.5, 0, _T0)])
        assert records.metrics(_id(99)) == []
        assert len(audit_log()) == before

    def test_latest_metrics_are_the_last_logged_per_run_and_key(
        self, records: BaseRunRecords, actor: Actor, run: Run
    ) -> None:
        other = sample_run(_id(2))
        records.create_run(actor, other)
        records.log_metrics(
            actor,
            run.id,
            [("loss", 0.9, 0, _T0), ("loss", 0.4, 1, _T0), ("acc", math.nan, None, _T0)],
        )
        # Logged last, though with a smaller step: logged order decides.
        records.log_metrics(actor, run.id, [("loss", 0.7, 0, _T0 + timedelta(seconds=1))])
        records.log_metrics(actor, other.id, [("loss", 2.0, 5, _T0)])
        latest = records.latest_metrics([run.id, other.id, _id(99)])
        assert set(latest) == {run.id, other.id, _id(99)}
        assert {k: (p.value, p.step) for k, p in latest[run.id].items() if k == "loss"} == {
            "loss": (0.7, 0)
        }
        assert math.isnan(latest[run.id]["acc"].value)
        assert latest[other.id]["loss"].value == 2.0
        assert latest[_id(99)] == {}
        assert records.latest_metrics([]) == {}

    def test_datasets_are_kept_one_per_name_and_listed_by_name(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        records.add_dataset(actor, run.id, name="orders", version=3, content_hash="3" * 64)
        records.add_dataset(actor, run.id, name="customers", version=1, content_hash="1" * 64)
        records.add_dataset(actor, run.id, name="orders", version=4, content_hash="4" * 64)
        assert records.datasets(run.id) == [
            {"name": "customers", "version": 1, "content_hash": "1" * 64},
            {"name": "orders", "version": 4, "content_hash": "4" * 64},
        ]
        event = audit_log()[-1]
        assert (event.action, event.target, event.details) == (
            "run.dataset",
            f"run:{run.id}",
            {"dataset": "orders@4"},
        )
        assert records.datasets(_id(99)) == []
        with pytest.raises(RunNotFoundError):
            records.add_dataset(actor, _id(99), name="orders", version=1, content_hash="1" * 64)

    def test_outputs_are_kept_one_per_name_with_their_metadata(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        first = [sample_output("output_0"), sample_output("output_10", size=1)]
        records.add_outputs(actor, run.id, first)
        again = sample_output("output_0", hash="2" * 64, meta={"nested": {"x": [1, 2.5]}})
        records.add_outputs(actor, run.id, [again])
        kept = sorted(records.outputs(run.id), key=lambda o: o.name)
        assert kept == [again, first[1]]
        event = audit_log()[-1]
        assert (event.action, event.target, event.details) == (
            "run.outputs",
            f"run:{run.id}",
            {"outputs": {"output_0": "2" * 64}},
        )
        assert records.outputs(_id(99)) == []
        with pytest.raises(RunNotFoundError):
            records.add_outputs(actor, _id(99), first)

    def test_artifacts_are_kept_one_per_name_and_listed_by_name(
        self, records: BaseRunRecords, actor: Actor, run: Run, audit_log: AuditLog
    ) -> None:
        records.add_artifact(
            actor, run.id, name="plot.png", hash="1" * 64, size=10, media_type="image/png"
        )
        records.add_artifact(
            actor, run.id, name="notes.txt", hash="2" * 64, size=3, media_type="text/plain"
        )
        records.add_artifact(
            actor, run.id, name="plot.png", hash="3" * 64, size=12, media_type="image/png"
        )
        assert records.artifacts(run.id) == [
            {"name": "notes.txt", "hash": "2" * 64, "size": 3, "media_type": "text/plain"},
            {"name": "plot.png", "hash": "3" * 64, "size": 12, "media_type": "image/png"},
        ]
        event = audit_log()[-1]
        assert (event.action, event.target, event.details) == (
            "run.artifact",
            f"run:{run.id}",
            {"name": "plot.png", "hash": "3" * 64},
        )
        assert records.artifacts(_id(99)) == []
        with pytest.raises(RunNotFoundError):
            records.add_artifact(
                actor, _id(99), name="x", hash="1" * 64, size=1, media_type="text/plain"
            )

    def test_metric_batches_from_several_threads_are_all_kept(
        self, records: BaseRunRecords, actor: Actor
    ) -> None:
        runs = [sample_run(_id(i)) for i in range(1, 5)]
        for run in runs:
            records.create_run(actor, run)
        errors: list[BaseException] = []

        def log(run_id: str) -> None:
            try:
                for batch in range(5):
                    values: list[MetricValue] = [
                        ("loss", float(i), batch * 10 + i, _T0) for i in range(10)
                    ]
                    records.log_metrics(actor, run_id, values)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=log, args=(run.id,)) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for run in runs:
            assert [p.step for p in records.metrics(run.id)] == list(range(50))
