"""The run records contract's queries: runs by id prefix, listed, searched, by dataset.

:class:`RunQueryTests` is one part of
:class:`~conveyor.testing.records.RunRecordsContract`, which mixes it in and provides
the fixtures its tests use (``records``, ``actor``).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from conveyor.core import Actor
from conveyor.testing.records._tracking_samples import _T0, _id, sample_run
from conveyor.tracking import BaseRunRecords


class RunQueryTests:
    """How :class:`~conveyor.tracking.BaseRunRecords` finds the runs it holds."""

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
