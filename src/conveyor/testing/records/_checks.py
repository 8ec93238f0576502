"""The contract of :class:`~conveyor.checks.BaseCheckRecords`, as a test suite.

Subclass :class:`CheckRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from conveyor.checks import (
    BaseCheckRecords,
    CheckResult,
    GateDecision,
    Status,
    Subject,
    SuiteResult,
)
from conveyor.core import Actor
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]

MODEL = Subject("model", "churn@2")
CHAMPION = Subject("model", "churn@1")
DATASET = Subject("dataset", "orders@3")


def sample_result(
    name: str, subject: Subject = MODEL, status: Status = "passed", **fields: Any
) -> CheckResult:
    """A result of check ``name`` about ``subject`` (fields may be overridden)."""
    values: dict[str, Any] = {
        "passed": status == "passed",
        "severity": "error",
        "value": 0.91,
        "threshold": 0.8,
        "explanation": f"{name}: 0.91 measured; at least 0.8 required",
        "details": {"plot": {"x": [1, 2], "y": [0.5, 0.75]}},
        "duration_s": 0.25,
        **fields,
    }
    return CheckResult(name=name, subject=subject, status=status, **values)


def sample_suite(suite_id: str, *results: CheckResult, subject: Subject = MODEL) -> SuiteResult:
    """A suite ``suite_id`` about ``subject`` holding ``results``."""
    return SuiteResult(suite_id=suite_id, subject=subject, results=results)


def sample_decision(
    subject: Subject = MODEL, decision: str = "PROMOTE", suite_id: str = "s1"
) -> GateDecision:
    """A decision about ``subject`` (recorded time and actor not set yet)."""
    return GateDecision(
        decision=decision,  # type: ignore[arg-type]
        reasons=("all 2 counted check(s) passed", "min_metric: 0.91 >= 0.8"),
        subject=subject,
        champion_ref=CHAMPION.ref,
        suite_id=suite_id,
        at=datetime(2020, 1, 1, tzinfo=UTC),
    )


def sample_document(columns: int = 2) -> dict[str, Any]:
    """A schema document with ``columns`` numeric columns."""
    return {
        "format": 1,
        "pandera": {
            "columns": {f"c{i}": {"dtype": "float64", "checks": None} for i in range(columns)}
        },
        "rows": {"min": 5, "max": 20},
        "options": {"tolerance": 0.25, "max_categories": 50},
    }


def _recent(at: datetime, started: datetime) -> bool:
    """``at`` is aware and between ``started`` and now (give or take a second)."""
    slack = timedelta(seconds=1)
    return at.tzinfo is not None and started - slack <= at <= datetime.now(UTC) + slack


class CheckRecordsContract:
    """Every test a :class:`~conveyor.checks.BaseCheckRecords` implementation must pass."""

    # -- an empty backend ----------------------------------------------------------------

    def test_an_empty_backend_has_no_records(self, records: BaseCheckRecords) -> None:
        assert records.list_results("model", MODEL.ref) == []
        assert records.latest_results() == {}
        assert records.list_decisions("model", MODEL.ref) == []
        assert records.latest_decision(MODEL.ref) is None
        assert records.has_decisions() is False
        assert records.list_schemas("orders") == []
        assert records.latest_schema("orders") is None
        assert records.has_schemas() is False

    # -- check results -------------------------------------------------------------------

    def test_a_recorded_suite_comes_back_in_order_with_suite_time_and_actor(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        started = datetime.now(UTC)
        results = (sample_result("min_metric"), sample_result("slices", status="failed"))
        records.record_suite(actor, sample_suite("s1", *results))
        stored = records.list_results("model", MODEL.ref)
        assert [r.result for r in stored] == list(results)
        assert {r.suite_id for r in stored} == {"s1"}
        assert {r.actor for r in stored} == {actor.name}
        assert all(_recent(r.at, started) for r in stored)

    def test_every_result_field_comes_back_exactly(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        result = sample_result(
            "calibration",
            status="skipped",
            severity="warning",
            value={"ece": 0.0312, "bins": [0.1, 0.2], "note": None},
            threshold={"max_ece": 0.05},
            explanation="no probabilities: skipped",
            details={"plot": {"x": [0.0, 0.5, 1.0]}, "nested": {"deep": [True, False]}},
            duration_s=1.5,
        )
        records.record_suite(actor, sample_suite("s1", result))
        (stored,) = records.list_results("model", MODEL.ref)
        assert stored.result == result

    def test_values_are_stored_in_their_json_safe_form(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        result = sample_result(
            "min_metric",
            value=np.float64(math.nan),
            threshold=(0.5, math.inf),
            details={"counts": np.array([1, 2]), "ratio": np.float32(0.5)},
        )
        records.record_suite(actor, sample_suite("s1", result))
        (stored,) = records.list_results("model", MODEL.ref)
        assert stored.result.value is None
        assert stored.result.threshold == [0.5, None]
        assert stored.result.details == {"counts": [1, 2], "ratio": 0.5}

    def test_each_result_is_stored_against_its_own_subject(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        suite = sample_suite("s1", sample_result("min_metric"), sample_result("schema", DATASET))
        records.record_suite(actor, suite)
        assert [r.result.name for r in records.list_results("model", MODEL.ref)] == ["min_metric"]
        assert [r.result.name for r in records.list_results("dataset", DATASET.ref)] == ["schema"]
        assert records.list_results("run", MODEL.ref) == []
        assert records.list_results("model", CHAMPION.ref) == []

    def test_results_are_listed_oldest_first_and_filtered_by_suite(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        records.record_suite(actor, sample_suite("s1", sample_result("a"), sample_result("b")))
        records.record_suite(actor, sample_suite("s2", sample_result("c")))
        stored = records.list_results("model", MODEL.ref)
        assert [(r.suite_id, r.result.name) for r in stored] == [
            ("s1", "a"),
            ("s1", "b"),
            ("s2", "c"),
        ]
        only = records.list_results("model", MODEL.ref, suite_id="s2")
        assert [r.result.name for r in only] == ["c"]
        assert records.list_results("model", MODEL.ref, suite_id="nope") == []

    def test_recording_a_suite_twice_stores_it_twice(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        suite = sample_suite("s1", sample_result("a"))
        records.record_suite(actor, suite)
        records.record_suite(actor, suite)
        assert len(records.list_results("model", MODEL.ref)) == 2

    def test_a_suite_without_results_stores_none(
        self, records: BaseCheckRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        records.record_suite(actor, sample_suite("s1"))
        assert records.list_results("model", MODEL.ref) == []
        assert [e.action for e in audit_log()[before:]] == ["checks.record"]

    def test_record_suite_appends_one_audit_event(
        self, records: BaseCheckRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        suite = sample_suite(
            "s1",
            sample_result("a"),
            sample_result("b", status="failed"),
            sample_result("c", DATASET, status="skipped"),
        )
        before = len(audit_log())
        records.record_suite(actor, suite)
        (event,) = audit_log()[before:]
        assert (event.action, event.target, event.actor) == (
            "checks.record",
            "model:churn@2",
            actor.name,
        )
        assert event.details == {
            "suite_id": "s1",
            "checks": 3,
            "passed": 1,
            "failed": 1,
            "error": 0,
            "skipped": 1,
        }

    def test_latest_results_give_each_check_its_newest_result_sorted_by_name(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        records.record_suite(
            actor, sample_suite("s1", sample_result("slices", status="failed"), sample_result("a"))
        )
        records.record_suite(
            actor,
            sample_suite(
                "s2",
                sample_result("slices", CHAMPION),
                sample_result("fairness", status="skipped", explanation="no column"),
            ),
        )
        latest = records.latest_results()
        assert list(latest) == ["a", "fairness", "slices"]
        assert (latest["slices"].suite_id, latest["slices"].result.subject) == ("s2", CHAMPION)
        assert latest["slices"].result.passed is True
        assert latest["fairness"].result.explanation == "no column"

    def test_a_check_run_twice_in_a_suite_counts_its_last_result(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        records.record_suite(
            actor,
            sample_suite("s1", sample_result("a"), sample_result("a", status="failed")),
        )
        assert records.latest_results()["a"].result.status == "failed"

    # -- gate decisions ------------------------------------------------------------------

    def test_a_recorded_decision_is_stamped_and_comes_back_equal(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        started = datetime.now(UTC)
        decision = sample_decision()
        stamped = records.record_decision(actor, decision)
        assert stamped.actor == actor.name
        assert _recent(stamped.at, started)
        assert (stamped.decision, stamped.reasons, stamped.subject) == (
            decision.decision,
            decision.reasons,
            decision.subject,
        )
        assert (stamped.champion_ref, stamped.suite_id) == (CHAMPION.ref, "s1")
        assert records.list_decisions("model", MODEL.ref) == [stamped]

    def test_a_decision_without_champion_or_reasons_round_trips(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        bare = GateDecision("HOLD", (), MODEL, None, "s1")
        stamped = records.record_decision(actor, bare)
        assert records.list_decisions("model", MODEL.ref) == [stamped]
        assert stamped.champion_ref is None
        assert stamped.reasons == ()

    def test_decisions_are_listed_oldest_first_per_subject(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        first = records.record_decision(actor, sample_decision(decision="REJECT", suite_id="s1"))
        other = records.record_decision(actor, sample_decision(CHAMPION, suite_id="s0"))
        second = records.record_decision(actor, sample_decision(suite_id="s2"))
        assert records.list_decisions("model", MODEL.ref) == [first, second]
        assert records.list_decisions("model", CHAMPION.ref) == [other]
        assert records.list_decisions("run", MODEL.ref) == []

    def test_latest_decision_is_the_newest_about_a_model_version(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        records.record_decision(actor, sample_decision(decision="REJECT", suite_id="s1"))
        newest = records.record_decision(actor, sample_decision(decision="HOLD", suite_id="s2"))
        records.record_decision(actor, sample_decision(Subject("run", MODEL.ref), suite_id="s3"))
        assert records.latest_decision(MODEL.ref) == newest
        assert records.latest_decision(CHAMPION.ref) is None

    @pytest.mark.parametrize("subject", [MODEL, DATASET, Subject("run", "r-1")], ids=str)
    def test_has_decisions_sees_a_decision_about_any_subject(
        self, records: BaseCheckRecords, actor: Actor, subject: Subject
    ) -> None:
        records.record_decision(actor, sample_decision(subject))
        assert records.has_decisions() is True

    def test_record_decision_appends_one_audit_event(
        self, records: BaseCheckRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        records.record_decision(actor, sample_decision())
        (event,) = audit_log()[before:]
        assert (event.action, event.target, event.actor) == (
            "gate.decide",
            "model:churn@2",
            actor.name,
        )
        assert event.details == {
            "decision": "PROMOTE",
            "suite_id": "s1",
            "champion": CHAMPION.ref,
            "reasons": ["all 2 counted check(s) passed", "min_metric: 0.91 >= 0.8"],
        }

    # -- data schemas --------------------------------------------------------------------

    def test_the_first_schema_is_version_one(self, records: BaseCheckRecords, actor: Actor) -> None:
        started = datetime.now(UTC)
        record, created = records.add_schema(actor, "orders", 3, sample_document())
        assert created is True
        assert (record.dataset, record.version, record.from_dataset_version) == ("orders", 1, 3)
        assert record.document == sample_document()
        assert record.created_by == actor.name
        assert _recent(record.created_at, started)
        assert record.ref == "orders schema v1"
        assert records.list_schemas("orders") == [record]
        assert records.latest_schema("orders") == record
        assert records.has_schemas() is True

    def test_adding_the_same_schema_again_changes_nothing(
        self, records: BaseCheckRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        first, _ = records.add_schema(actor, "orders", 3, sample_document())
        before = len(audit_log())
        again, created = records.add_schema(actor, "orders", 3, sample_document())
        assert created is False
        assert again == first
        assert records.list_schemas("orders") == [first]
        assert len(audit_log()) == before

    def test_a_new_document_or_source_version_is_the_next_version(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        records.add_schema(actor, "orders", 3, sample_document())
        moved, moved_created = records.add_schema(actor, "orders", 4, sample_document())
        wider, wider_created = records.add_schema(actor, "orders", 4, sample_document(3))
        assert (moved.version, moved_created) == (2, True)
        assert (wider.version, wider_created) == (3, True)
        assert [s.version for s in records.list_schemas("orders")] == [1, 2, 3]
        assert records.latest_schema("orders") == wider

    def test_only_the_newest_version_makes_a_schema_unchanged(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        records.add_schema(actor, "orders", 3, sample_document())
        records.add_schema(actor, "orders", 3, sample_document(3))
        back, created = records.add_schema(actor, "orders", 3, sample_document())
        assert (back.version, created) == (3, True)

    def test_schemas_are_numbered_per_dataset(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        records.add_schema(actor, "orders", 1, sample_document())
        records.add_schema(actor, "orders", 2, sample_document())
        other, _ = records.add_schema(actor, "users", 1, sample_document())
        assert other.version == 1
        assert [s.dataset for s in records.list_schemas("users")] == ["users"]
        assert records.latest_schema("nope") is None

    def test_add_schema_appends_one_audit_event(
        self, records: BaseCheckRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before = len(audit_log())
        records.add_schema(actor, "orders", 3, sample_document())
        records.add_schema(actor, "orders", 4, sample_document())
        events = audit_log()[before:]
        assert [(e.action, e.target, e.actor) for e in events] == [
            ("schema.infer", "dataset:orders", actor.name),
            ("schema.infer", "dataset:orders", actor.name),
        ]
        assert [e.details for e in events] == [
            {"schema_version": 1, "from_dataset_version": 3},
            {"schema_version": 2, "from_dataset_version": 4},
        ]

    def test_concurrent_writers_get_contiguous_schema_versions(
        self, records: BaseCheckRecords, actor: Actor
    ) -> None:
        """Writers racing to add schemas of one dataset each get their own next version."""
        start = threading.Barrier(6)

        def add(source: int) -> int:
            start.wait()
            record, _ = records.add_schema(actor, "orders", source, sample_document())
            return record.version

        with ThreadPoolExecutor(max_workers=6) as pool:
            versions = list(pool.map(add, range(1, 7)))
        assert sorted(versions) == [1, 2, 3, 4, 5, 6]
        stored = records.list_schemas("orders")
        assert [s.version for s in stored] == [1, 2, 3, 4, 5, 6]
        assert sorted(s.from_dataset_version for s in stored) == [1, 2, 3, 4, 5, 6]
