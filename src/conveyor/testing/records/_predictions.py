"""The contract of :class:`~conveyor.predictions.BasePredictionRecords`, as a test suite.

Subclass :class:`PredictionRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor.core import Actor, hash_bytes
from conveyor.predictions import (
    BasePredictionRecords,
    FeedbackResult,
    NewPartition,
    PartitionInfo,
    PredictionLogError,
    ServingUsage,
)
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]
_T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def sample_partition(
    first_s: float, last_s: float, *, model: str = "churn", version: int = 1, **fields: Any
) -> NewPartition:
    """A partition of ``model@version`` spanning ``first_s``-``last_s`` seconds after T0."""
    first_at = _T0 + timedelta(seconds=first_s)
    last_at = _T0 + timedelta(seconds=last_s)
    values: dict[str, Any] = {
        "environment": None,
        "variant": None,
        "revision": None,
        "rows": 10,
        "content_hash": hash_bytes(f"{model}@{version} {first_at} {last_at} {fields}".encode()),
        **fields,
    }
    return NewPartition(model=model, version=version, first_at=first_at, last_at=last_at, **values)


def sample_usage(
    process: str = "p1", *, model: str = "churn", version: int = 1, **fields: Any
) -> ServingUsage:
    """A usage record of server process ``process`` for ``model@version``, taken at T0."""
    values: dict[str, Any] = {
        "environment": None,
        "host": "host-a",
        "pid": 4242,
        "started_at": _T0,
        "updated_at": _T0,
        "wall_s": 60.0,
        "busy_s": 1.5,
        "cpu_s": 2.25,
        "peak_rss_mb": 180.5,
        "predictions": 40,
        "requests": 20,
        **fields,
    }
    return ServingUsage(process_id=process, model=model, version=version, **values)


def _same(info: PartitionInfo, partition: NewPartition) -> bool:
    return (
        info.model,
        info.version,
        info.environment,
        info.variant,
        info.revision,
        info.first_at,
        info.last_at,
        info.rows,
        info.content_hash,
    ) == (
        partition.model,
        partition.version,
        partition.environment,
        partition.variant,
        partition.revision,
        partition.first_at,
        partition.last_at,
        partition.rows,
        partition.content_hash,
    )


class PredictionRecordsContract:
    """Tests every :class:`~conveyor.predictions.BasePredictionRecords` must pass."""

    @pytest.fixture
    def records(self) -> BasePredictionRecords:
        """A fresh, empty implementation (subclasses override)."""
        raise NotImplementedError

    @pytest.fixture
    def actor(self) -> Actor:
        """Who signs the writes."""
        return Actor(name="contract-tester", kind="service")

    @pytest.fixture
    def audit_log(self) -> AuditLog:
        """The audit events recorded so far, oldest first (subclasses override)."""
        raise NotImplementedError

    # -- the partition index ---------------------------------------------------------------

    def test_an_empty_backend_has_no_partitions_and_no_labels(
        self, records: BasePredictionRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """Nothing indexed; indexing nothing writes nothing, not even an audit event."""
        assert records.partitions() == []
        assert records.labels(["r1"]) == {}
        assert records.add_partitions(actor, []) == []
        assert [e for e in audit_log() if e.action.startswith("predictions.")] == []

    def test_indexed_partitions_come_back_as_given_with_new_ids(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Each partition gets an increasing id; every field round-trips exactly."""
        given = [
            sample_partition(0, 1.5),
            sample_partition(
                2, 3, version=2, environment="production", variant="challenger", revision=4
            ),
        ]
        indexed = records.add_partitions(actor, given)
        assert len(indexed) == 2
        assert all(_same(info, part) for info, part in zip(indexed, given, strict=True))
        assert indexed[0].id < indexed[1].id
        later = records.add_partitions(actor, [sample_partition(4, 5)])
        assert later[0].id > indexed[1].id
        stored = records.partitions()
        assert [p.id for p in stored] == [later[0].id, indexed[1].id, indexed[0].id]
        assert stored[1:] == indexed[::-1]
        assert all(p.first_at.utcoffset() == timedelta(0) for p in stored)

    def test_partitions_come_newest_last_at_first_and_larger_id_first_on_ties(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Order: ``last_at`` descending, then id descending."""
        a, b = records.add_partitions(actor, [sample_partition(0, 5), sample_partition(1, 9)])
        (c,) = records.add_partitions(actor, [sample_partition(2, 5, variant="x")])
        assert [p.id for p in records.partitions()] == [b.id, c.id, a.id]

    def test_partitions_filter_by_model_version_and_deployment(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Each given filter must match; ``None`` matches anything."""
        records.add_partitions(
            actor,
            [
                sample_partition(0, 1),
                sample_partition(0, 1, version=2),
                sample_partition(0, 1, model="fraud"),
                sample_partition(0, 1, environment="production", variant="champion"),
                sample_partition(0, 1, environment="production", variant="challenger"),
            ],
        )

        def keys(**filters: Any) -> list[tuple[Any, ...]]:
            found = records.partitions(**filters)
            return sorted((p.model, p.version, p.environment or "", p.variant or "") for p in found)

        assert len(records.partitions()) == 5
        assert keys(model="fraud") == [("fraud", 1, "", "")]
        assert keys(model="churn", version=2) == [("churn", 2, "", "")]
        assert keys(environment="production") == [
            ("churn", 1, "production", "challenger"),
            ("churn", 1, "production", "champion"),
        ]
        assert keys(environment="production", variant="champion") == [
            ("churn", 1, "production", "champion")
        ]
        assert keys(model="churn", version=3) == []

    def test_a_time_window_keeps_partitions_whose_span_meets_it(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """``last_at >= since`` and ``first_at < until``: since inclusive, until exclusive."""
        early, middle, late = records.add_partitions(
            actor, [sample_partition(0, 10), sample_partition(10, 20), sample_partition(20, 30)]
        )

        def ids(since_s: float | None, until_s: float | None) -> set[int]:
            since = None if since_s is None else _T0 + timedelta(seconds=since_s)
            until = None if until_s is None else _T0 + timedelta(seconds=until_s)
            return {p.id for p in records.partitions(since=since, until=until)}

        assert ids(None, None) == {early.id, middle.id, late.id}
        assert ids(10, None) == {early.id, middle.id, late.id}
        assert ids(10.5, None) == {middle.id, late.id}
        assert ids(None, 10) == {early.id}
        assert ids(None, 10.000001) == {early.id, middle.id}
        assert ids(12, 15) == {middle.id}
        assert ids(31, None) == set()
        # 12:00:15 UTC written as 14:00:15 in another zone: compared as the same instant.
        other_zone = (_T0 + timedelta(seconds=15)).astimezone(timezone(timedelta(hours=2)))
        assert {p.id for p in records.partitions(since=other_zone)} == {middle.id, late.id}

    def test_row_count_adds_up_the_rows_of_matching_partitions(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """The same filters as ``partitions``; 0 when nothing matches."""
        assert records.row_count() == 0
        records.add_partitions(
            actor,
            [
                sample_partition(0, 1, rows=3),
                sample_partition(0, 1, version=2, rows=4),
                sample_partition(0, 1, environment="production", variant="champion", rows=5),
            ],
        )
        assert records.row_count() == 12
        assert records.row_count(model="churn", version=1) == 8
        assert records.row_count(version=2) == 4
        assert records.row_count(environment="production", variant="champion") == 5
        assert records.row_count(environment="production", variant="challenger") == 0
        assert records.row_count(model="fraud") == 0

    def test_an_idempotent_index_of_a_known_object_returns_the_existing_entry(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Replaying a spill file indexes each Parquet object once."""
        part = sample_partition(0, 1)
        (first,) = records.add_partitions(actor, [part], idempotent=True)
        again = records.add_partitions(actor, [part, sample_partition(5, 6)], idempotent=True)
        assert again[0] == first
        assert again[1].id > first.id
        assert len(records.partitions()) == 2
        (duplicate,) = records.add_partitions(actor, [part])
        assert duplicate.id != first.id
        assert len(records.partitions()) == 3

    def test_each_index_write_is_audited_once(
        self, records: BasePredictionRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """``predictions.log``: one model version names it, several say ``predictions``."""
        (one,) = records.add_partitions(actor, [sample_partition(0, 1, version=3, rows=7)])
        two = records.add_partitions(
            actor, [sample_partition(0, 1, rows=2), sample_partition(0, 1, version=2, rows=5)]
        )
        events = [e for e in audit_log() if e.action == "predictions.log"]
        assert [e.target for e in events] == ["predictions:churn@3", "predictions"]
        assert {e.actor for e in events} == {actor.name}
        assert events[0].details == {"rows": 7, "batches": [one.id]}
        assert events[1].details == {"rows": 7, "batches": [p.id for p in two]}

    # -- feedback labels -------------------------------------------------------------------

    def test_labels_come_back_as_the_json_values_given(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Numbers, strings, booleans, lists and objects survive; unlabelled ids are absent."""
        given: dict[str, Any] = {
            "r-int": 1,
            "r-float": 0.1 + 0.2,
            "r-str": "churned",
            "r-bool": False,
            "r-list": [1, "two", 3.5],
            "r-dict": {"class": "a", "score": 0.25},
        }
        result = records.record_feedback(actor, given)
        assert result == FeedbackResult(accepted=6, unknown=0, updated=0, kept=0)
        found = records.labels([*given, "never-labelled"])
        assert {k: v.label for k, v in found.items()} == given
        for request_id, label in found.items():
            assert label.request_id == request_id
            assert label.updates == 1
            assert label.at == label.first_at
            assert label.at.utcoffset() == timedelta(0)

    def test_many_ids_are_looked_up_at_once(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Thousands of ids in one call (more than one database query can bind)."""
        ids = [f"r{i}" for i in range(1234)]
        records.record_feedback(actor, dict.fromkeys(ids, 1))
        assert len(records.labels([*ids, "ghost"])) == 1234

    def test_overwrite_replaces_a_label_and_counts_the_updates(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """A replaced label keeps ``first_at``, gets a new ``at`` and more ``updates``."""
        records.record_feedback(actor, {"r1": 0, "r2": 0}, updates={"r1": 2})
        before = records.labels(["r1", "r2"])
        assert (before["r1"].updates, before["r2"].updates) == (2, 1)
        result = records.record_feedback(actor, {"r1": 1, "r3": 1}, updates={"r1": 3, "r3": 1})
        assert result == FeedbackResult(accepted=2, unknown=0, updated=1, kept=0)
        after = records.labels(["r1", "r2", "r3"])
        assert after["r1"].label == 1
        assert after["r1"].updates == 5
        assert after["r1"].first_at == before["r1"].first_at
        assert after["r1"].at >= before["r1"].at
        assert after["r2"] == before["r2"]
        assert after["r3"].updates == 1

    def test_without_overwrite_existing_labels_are_kept(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Ids that have a label are counted ``kept`` and left as they were."""
        records.record_feedback(actor, {"r1": "no"})
        before = records.labels(["r1"])["r1"]
        result = records.record_feedback(actor, {"r1": "yes", "r2": "yes"}, overwrite=False)
        assert result == FeedbackResult(accepted=1, unknown=0, updated=0, kept=1)
        found = records.labels(["r1", "r2"])
        assert found["r1"] == before
        assert found["r2"].label == "yes"

    def test_each_feedback_write_is_audited_with_its_counts(
        self, records: BasePredictionRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """``predictions.feedback`` on ``predictions:feedback``; unknown is passed through."""
        first = records.record_feedback(actor, {"r1": 1, "r2": 0}, unknown=1)
        assert first == FeedbackResult(accepted=2, unknown=1, updated=0, kept=0)
        records.record_feedback(actor, {"r1": 0, "r3": 1}, overwrite=False)
        assert records.record_feedback(actor, {}, unknown=2) == FeedbackResult(
            accepted=0, unknown=2, updated=0, kept=0
        )
        events = [e for e in audit_log() if e.action == "predictions.feedback"]
        assert [e.target for e in events] == ["predictions:feedback"] * 2
        assert {e.actor for e in events} == {actor.name}
        assert events[0].details == {"accepted": 2, "unknown": 1, "updated": 0, "kept": 0}
        assert events[1].details == {"accepted": 1, "unknown": 0, "updated": 0, "kept": 1}

    # -- replacing partitions --------------------------------------------------------------

    def test_replaced_partitions_leave_the_index_and_their_replacements_join_it(
        self, records: BasePredictionRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """Removed ids are gone, a replacement gets a new id; one audited write does both."""
        old, gone, kept = records.add_partitions(
            actor, [sample_partition(0, 9), sample_partition(10, 19), sample_partition(20, 29)]
        )
        smaller = sample_partition(5, 9, rows=4)
        (added,) = records.replace_partitions(
            actor,
            "predictions.erase",
            "predictions:email",
            {old.id: smaller, gone.id: None},
            details={"rows": 16},
        )
        assert _same(added, smaller)
        assert added.id > kept.id
        assert {p.id for p in records.partitions()} == {kept.id, added.id}
        assert records.row_count() == 14
        (event,) = [e for e in audit_log() if e.action == "predictions.erase"]
        assert (event.target, event.actor) == ("predictions:email", actor.name)
        assert event.details == {"rows": 16, "removed": [old.id, gone.id], "batches": [added.id]}

    def test_replacing_forgets_the_labels_asked_for_and_only_those(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Labels of the removed request ids are deleted; others stay."""
        (part,) = records.add_partitions(actor, [sample_partition(0, 1)])
        records.record_feedback(actor, {"r1": 1, "r2": 0})
        records.replace_partitions(
            actor, "predictions.retention", "predictions", {part.id: None}, forget_labels=["r1"]
        )
        assert set(records.labels(["r1", "r2"])) == {"r2"}
        assert records.partitions() == []

    def test_replacing_a_partition_no_longer_indexed_changes_nothing(
        self, records: BasePredictionRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """An id another process removed meanwhile fails the whole write."""
        (part,) = records.add_partitions(actor, [sample_partition(0, 1)])
        records.record_feedback(actor, {"r1": 1})
        with pytest.raises(PredictionLogError, match=r"not indexed"):
            records.replace_partitions(
                actor,
                "predictions.erase",
                "predictions:email",
                {part.id: sample_partition(0, 0, rows=1), part.id + 99: None},
                forget_labels=["r1"],
            )
        assert records.partitions() == [part]
        assert set(records.labels(["r1"])) == {"r1"}
        assert [e for e in audit_log() if e.action == "predictions.erase"] == []

    def test_replacing_nothing_writes_nothing(
        self, records: BasePredictionRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """No ids and no labels: no audit event."""
        assert records.replace_partitions(actor, "predictions.erase", "predictions", {}) == []
        assert [e for e in audit_log() if e.action == "predictions.erase"] == []

    # -- serving usage ---------------------------------------------------------------------

    def test_usage_records_come_back_as_given_and_a_newer_one_replaces_its_process(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """One record per (process, model, version); the newest totals win."""
        first = sample_usage("p1")
        other = sample_usage("p2", version=2, started_at=_T0 + timedelta(seconds=1))
        records.record_usage(actor, [first, other])
        assert records.usage() == [first, other]
        later = sample_usage("p1", updated_at=_T0 + timedelta(minutes=1), predictions=90)
        records.record_usage(actor, [later])
        assert records.usage() == [later, other]

    def test_usage_filters_by_model_version_environment_and_time(
        self, records: BasePredictionRecords, actor: Actor
    ) -> None:
        """Each filter keeps only matching records; ``since`` looks at the update time."""
        old = sample_usage("p1", environment="staging")
        new = sample_usage(
            "p2", environment="production", updated_at=_T0 + timedelta(hours=1), version=2
        )
        other = sample_usage("p3", model="fraud")
        records.record_usage(actor, [old, new, other])
        assert records.usage(model="churn") == [old, new]
        assert records.usage(model="churn", version=2) == [new]
        assert records.usage(environment="staging") == [old]
        assert records.usage(since=_T0 + timedelta(minutes=1)) == [new]

    def test_recording_no_usage_writes_nothing_and_usage_is_audited(
        self, records: BasePredictionRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        """An empty write leaves no event; a write leaves one with the predictions summed."""
        records.record_usage(actor, [])
        assert [e for e in audit_log() if e.action == "serving.usage"] == []
        records.record_usage(actor, [sample_usage("p9"), sample_usage("p9", version=2)])
        events = [e for e in audit_log() if e.action == "serving.usage"]
        assert [(e.target, e.details["predictions"]) for e in events] == [("serving:p9", 80)]
