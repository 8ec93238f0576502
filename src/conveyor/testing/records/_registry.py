"""The contract of :class:`~conveyor.registry.BaseModelRecords`, as a test suite.

Subclass :class:`ModelRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conveyor.core import Actor
from conveyor.registry import (
    AliasNotFoundError,
    BaseModelRecords,
    ModelNotFoundError,
    ModelRef,
    ModelStateError,
    ModelVersion,
    ModelVersionNotFoundError,
    NewSignature,
    NewVersion,
    RegistrationError,
)
from conveyor.store import AuditEvent

AuditLog = Callable[[], list[AuditEvent]]


def sample_version(tag: str = "a", **fields: Any) -> NewVersion:
    """A new version whose hashes are made of ``tag`` (fields may be overridden)."""
    values: dict[str, Any] = {
        "flavor": "sklearn",
        "content_hash": tag * 64,
        "object_hashes": frozenset({tag * 64, "0" * 63 + tag}),
        "signature": {"inputs": [{"name": "x", "type": "double", "nullable": False}]},
        "input_example": {"columns": ["x"], "data": [[1.5], [2.5]]},
        "metrics": {"auc": 0.91, "loss": None},
        "params": {"C": 1.0, "solver": "lbfgs"},
        "tags": {"team": "growth"},
        "description": "Predict churn.",
        "lineage": {"run_id": None, "code_version": None, "datasets": []},
        "evaluation": {"metric_sources": {"auc": "evaluate"}},
        "onnx": None,
        "importance": {"x": 0.5},
        "trusted": False,
        **fields,
    }
    return NewVersion(**values)


def sample_signature(key_name: str = "release", tag: str = "a") -> NewSignature:
    """A signature record whose values are made of ``tag`` (the records never check it)."""
    return NewSignature(
        key_name=key_name,
        public_key="A" * 43 + "=",
        signature=tag.upper() * 86 + "==",
        statement_hash=tag * 64,
    )


def events_of(audit_log: AuditLog, action: str) -> list[AuditEvent]:
    """The audit events of ``action``, oldest first."""
    return [e for e in audit_log() if e.action == action]


class ModelRecordsContract:
    """What every :class:`BaseModelRecords` implementation must do."""

    # -- registering ---------------------------------------------------------------------

    def test_an_empty_backend_knows_no_model(self, records: BaseModelRecords) -> None:
        assert records.list_models() == []
        with pytest.raises(ModelNotFoundError, match=r"No model named 'churn'\. Models: none"):
            records.get_version(ModelRef("churn"))
        with pytest.raises(ModelNotFoundError):
            records.list_versions("churn")
        with pytest.raises(ModelNotFoundError):
            records.history("churn")
        assert records.find_keyed("churn", "k") is None

    def test_every_field_comes_back_exactly(self, records: BaseModelRecords, actor: Actor) -> None:
        new = sample_version(
            trusted=True, onnx={"hash": "e" * 64, "parity": {"passed": True, "rows": 200}}
        )
        made = records.insert_version(actor, "churn", new, model_description="Model text.")
        assert made == records.get_version(ModelRef("churn", version=1))
        assert (made.name, made.version, made.status, made.aliases) == ("churn", 1, "ready", ())
        assert made.flavor == new.flavor
        assert made.content_hash == new.content_hash
        assert made.signature == new.signature
        assert made.input_example == new.input_example
        assert made.metrics == {"auc": 0.91, "loss": None}
        assert made.params == new.params
        assert made.tags == new.tags
        assert made.description == "Predict churn."
        assert made.lineage == {"run_id": None, "code_version": None, "datasets": []}
        assert made.evaluation == {"metric_sources": {"auc": "evaluate"}}
        assert made.onnx == new.onnx
        assert made.importance == new.importance
        assert made.trusted is True
        assert made.run_id is None
        assert made.created_by == actor.name

    def test_sealed_text_is_stored_as_given(self, records: BaseModelRecords, actor: Actor) -> None:
        sealed = "cvyf1:" + "A" * 40
        new = sample_version(input_example=sealed, description=sealed)
        made = records.insert_version(actor, "churn", new, model_description=sealed)
        assert made.input_example == sealed
        assert made.description == sealed
        assert records.list_models()[0].description == sealed

    def test_versions_are_numbered_from_one_per_model(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        numbers = [
            records.insert_version(actor, "churn", sample_version(t), model_description=None)
            for t in "abc"
        ]
        other = records.insert_version(actor, "fraud", sample_version(), model_description=None)
        assert [v.version for v in numbers] == [1, 2, 3]
        assert other.version == 1
        assert [v.version for v in records.list_versions("churn")] == [3, 2, 1]

    def test_the_model_keeps_its_first_description(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        records.insert_version(actor, "churn", sample_version("a"), model_description="first")
        records.insert_version(actor, "churn", sample_version("b"), model_description="second")
        assert records.list_models()[0].description == "first"

    def test_registering_appends_one_audit_event(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        (event,) = events_of(audit_log, "model.register")
        assert event.target == "model:churn@1"
        assert event.actor == actor.name
        assert event.details["version"] == 1
        assert event.details["content_hash"] == "a" * 64
        assert event.details["flavor"] == "sklearn"
        assert event.details["trusted"] is False

    def test_a_key_returns_the_version_it_registered_without_writing(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        first = records.insert_version(
            actor, "churn", sample_version("a", idempotency_key="build-7"), model_description=None
        )
        again = records.insert_version(
            actor, "churn", sample_version("b", idempotency_key="build-7"), model_description=None
        )
        assert again == first
        assert first.lineage["idempotency_key"] == "build-7"
        assert records.find_keyed("churn", "build-7") == first
        assert records.find_keyed("churn", "build-8") is None
        assert records.find_keyed("fraud", "build-7") is None
        assert len(events_of(audit_log, "model.register")) == 1
        assert [v.version for v in records.list_versions("churn")] == [1]

    def test_concurrent_registrations_get_contiguous_numbers(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        def register(tag: str) -> int:
            new = sample_version(tag)
            return records.insert_version(actor, "churn", new, model_description=None).version

        with ThreadPoolExecutor(max_workers=4) as pool:
            made = list(pool.map(register, "abcd"))  # re-raises a worker's error
        assert sorted(made) == [1, 2, 3, 4]

    # -- reading -------------------------------------------------------------------------

    def test_latest_is_the_newest_ready_version(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for tag in "ab":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        assert records.get_version(ModelRef("churn")).version == 2
        records.archive(actor, "churn", 2, reason=None)
        assert records.get_version(ModelRef("churn")).version == 1
        records.archive(actor, "churn", 1, reason=None)
        with pytest.raises(ModelVersionNotFoundError, match="no ready version"):
            records.get_version(ModelRef("churn"))
        assert records.get_version(ModelRef("churn", version=2)).status == "archived"

    def test_a_missing_version_lists_the_versions_there_are(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for tag in "ab":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        with pytest.raises(ModelVersionNotFoundError, match=r"no version 7\. Versions: 1-2"):
            records.get_version(ModelRef("churn", version=7))

    def test_a_missing_model_lists_the_models(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for name in ("fraud", "churn"):
            records.insert_version(actor, name, sample_version(), model_description=None)
        with pytest.raises(ModelNotFoundError, match="Models: churn, fraud") as info:
            records.get_version(ModelRef("nope"))
        assert info.value.fields["models"] == ["churn", "fraud"]

    def test_summaries_are_sorted_by_name_with_counts_and_aliases(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for name, tags in (("fraud", "a"), ("churn", "abc")):
            for tag in tags:
                records.insert_version(actor, name, sample_version(tag), model_description=name)
        records.set_aliases(actor, "churn", 2, ["champion"], reason=None)
        records.archive(actor, "churn", 3, reason=None)
        churn, fraud = records.list_models()
        assert (churn.name, churn.latest_version, churn.versions) == ("churn", 2, 3)
        assert churn.aliases == {"champion": 2}
        assert churn.description == "churn"
        assert churn.updated_at == records.get_version(ModelRef("churn", version=3)).created_at
        assert (fraud.name, fraud.latest_version, fraud.versions) == ("fraud", 1, 1)

    # -- aliases -------------------------------------------------------------------------

    def test_aliases_set_move_and_resolve(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        for tag in "ab":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        assert records.set_aliases(actor, "churn", 1, ["champion"], reason="first") == ["champion"]
        assert records.get_version(ModelRef("churn", alias="champion")).version == 1
        assert records.set_aliases(actor, "churn", 2, ["champion"], reason="better") == ["champion"]
        moved = records.get_version(ModelRef("churn", alias="champion"))
        assert (moved.version, moved.aliases) == (2, ("champion",))
        assert records.get_version(ModelRef("churn", version=1)).aliases == ()
        events = events_of(audit_log, "model.alias.set")
        assert [e.target for e in events] == ["model:churn", "model:churn"]
        assert events[-1].details["from_version"] == 1
        assert events[-1].details["to_version"] == 2

    def test_an_unchanged_alias_writes_and_audits_nothing(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion"], reason=None)
        before = len(audit_log())
        assert records.set_aliases(actor, "churn", 1, ["champion"], reason=None) == []
        assert len(audit_log()) == before
        assert [e.kind for e in records.history("churn")] == ["registered", "alias.set"]

    def test_several_aliases_move_together_or_not_at_all(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        for tag in "ab":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        records.set_aliases(actor, "churn", 1, ["production"], reason=None)
        moved = records.set_aliases(
            actor, "churn", 2, ["production", "champion", "staging"], reason=None
        )
        assert moved == ["production", "champion", "staging"]
        assert len(events_of(audit_log, "model.alias.set")) == 2
        assert records.get_version(ModelRef("churn", version=2)).aliases == (
            "champion",
            "production",
            "staging",
        )
        records.archive(actor, "churn", 1, reason=None)
        with pytest.raises(ModelStateError, match="archived"):
            records.set_aliases(actor, "churn", 1, ["production", "other"], reason=None)
        assert records.list_models()[0].aliases == {
            "champion": 2,
            "production": 2,
            "staging": 2,
        }

    def test_an_alias_to_a_missing_version_changes_nothing(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        before = len(audit_log())
        with pytest.raises(ModelVersionNotFoundError):
            records.set_aliases(actor, "churn", 9, ["champion"], reason=None)
        with pytest.raises(ModelNotFoundError):
            records.set_aliases(actor, "fraud", 1, ["champion"], reason=None)
        assert len(audit_log()) == before
        assert records.list_models()[0].aliases == {}

    def test_removing_an_alias_keeps_it_in_history(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion"], reason=None)
        records.remove_alias(actor, "churn", "champion", reason="retired")
        with pytest.raises(AliasNotFoundError, match=r"no alias 'champion'\. Aliases: none"):
            records.get_version(ModelRef("churn", alias="champion"))
        with pytest.raises(AliasNotFoundError):
            records.remove_alias(actor, "churn", "champion", reason=None)
        (event,) = events_of(audit_log, "model.alias.remove")
        assert event.target == "model:churn"
        removed = records.history("churn")[-1]
        assert (removed.kind, removed.alias, removed.from_version, removed.version) == (
            "alias.removed",
            "champion",
            1,
            None,
        )
        assert removed.reason == "retired"
        assert removed.actor == actor.name

    def test_a_missing_alias_lists_the_aliases(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion"], reason=None)
        with pytest.raises(AliasNotFoundError, match=r"Aliases: champion -> 1") as info:
            records.get_version(ModelRef("churn", alias="prod"))
        assert info.value.fields["aliases"] == {"champion": 1}

    # -- archive -------------------------------------------------------------------------

    def test_an_aliased_version_cannot_be_archived(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion", "prod"], reason=None)
        with pytest.raises(ModelStateError, match="champion, prod point at it") as info:
            records.archive(actor, "churn", 1, reason=None)
        assert info.value.fields["aliases"] == ["champion", "prod"]
        assert events_of(audit_log, "model.archive") == []
        assert records.get_version(ModelRef("churn", version=1)).status == "ready"

    def test_archiving_is_audited_and_kept_in_history(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        records.archive(actor, "churn", 1, reason="stale")
        (event,) = events_of(audit_log, "model.archive")
        assert event.target == "model:churn@1"
        assert event.details["version"] == 1
        assert event.details["reason"] == "stale"
        archived = records.history("churn")[-1]
        assert (archived.kind, archived.version, archived.reason) == ("archived", 1, "stale")
        with pytest.raises(ModelVersionNotFoundError):
            records.archive(actor, "churn", 5, reason=None)

    # -- history -------------------------------------------------------------------------

    def test_history_is_oldest_first(self, records: BaseModelRecords, actor: Actor) -> None:
        for tag in "ab":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion"], reason=None)
        records.set_aliases(actor, "churn", 2, ["champion"], reason="better")
        records.remove_alias(actor, "churn", "champion", reason=None)
        records.archive(actor, "churn", 1, reason=None)
        entries = records.history("churn")
        assert [(e.kind, e.version) for e in entries] == [
            ("registered", 1),
            ("registered", 2),
            ("alias.set", 1),
            ("alias.moved", 2),
            ("alias.removed", None),
            ("archived", 1),
        ]
        assert entries[3].from_version == 1
        assert entries[3].reason == "better"
        assert [e.at for e in entries] == sorted(e.at for e in entries)

    def test_history_limit_keeps_the_newest_entries(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for tag in "abc":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion"], reason=None)
        records.set_aliases(actor, "churn", 3, ["champion"], reason=None)
        records.archive(actor, "churn", 2, reason=None)
        every = records.history("churn")
        assert len(every) == 6
        for limit in (0, 1, 3, 4, 6, 50):
            assert records.history("churn", limit=limit) == every[max(len(every) - limit, 0) :]

    def test_a_page_of_models_is_a_slice_of_every_model(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for name in ("delta", "alpha", "charlie", "bravo"):
            records.insert_version(actor, name, sample_version(), model_description=None)
        records.insert_version(actor, "charlie", sample_version("b"), model_description=None)
        records.set_aliases(actor, "charlie", 2, ["champion"], reason=None)
        records.set_aliases(actor, "delta", 1, ["champion"], reason=None)
        every = records.list_models()
        assert [m.name for m in every] == ["alpha", "bravo", "charlie", "delta"]
        assert records.list_models(offset=1, limit=2) == every[1:3]
        assert records.list_models(offset=2) == every[2:]
        assert records.list_models(limit=0) == []
        assert records.list_models(offset=9, limit=2) == []
        assert records.list_models(offset=-1, limit=1) == every[:1]
        charlie = records.list_models(offset=2, limit=1)[0]
        assert (charlie.versions, charlie.latest_version, charlie.aliases) == (
            2,
            2,
            {"champion": 2},
        )

    def test_a_page_of_versions_is_a_slice_of_every_version_newest_first(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for tag in "abcde":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        records.insert_version(actor, "fraud", sample_version(), model_description=None)
        records.set_aliases(actor, "churn", 4, ["champion"], reason=None)
        records.archive(actor, "churn", 2, reason=None)
        every = records.list_versions("churn")
        total, page = records.versions_page("churn", offset=1, limit=2)
        assert total == 5
        assert page == every[1:3]
        assert [(v.version, v.aliases) for v in page] == [(4, ("champion",)), (3, ())]
        assert records.versions_page("churn", offset=4, limit=10) == (5, every[4:])
        assert records.versions_page("churn", offset=9, limit=10) == (5, [])
        assert records.versions_page("churn", offset=0, limit=0) == (5, [])
        assert records.versions_page("churn", offset=-3, limit=1) == (5, every[:1])
        assert records.versions_page("churn")[1] == every
        with pytest.raises(ModelNotFoundError, match="churn"):
            records.versions_page("nope")

    def test_alias_history_is_the_alias_part_of_history(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        for tag in "ab":
            records.insert_version(actor, "churn", sample_version(tag), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion"], reason=None)
        records.set_aliases(actor, "churn", 2, ["champion", "production"], reason="better")
        records.remove_alias(actor, "churn", "production", reason=None)
        records.archive(actor, "churn", 1, reason=None)
        expected = [e for e in records.history("churn") if e.kind.startswith("alias.")]
        assert records.alias_history("churn") == expected
        assert [(e.kind, e.alias) for e in expected] == [
            ("alias.set", "champion"),
            ("alias.moved", "champion"),
            ("alias.set", "production"),
            ("alias.removed", "production"),
        ]
        with pytest.raises(ModelNotFoundError):
            records.alias_history("nope")

    # -- decisions -----------------------------------------------------------------------

    def test_a_decision_is_recorded_with_the_version(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        records.set_aliases(actor, "churn", 1, ["champion"], reason=None)
        decided = records.record_decision(
            actor,
            ModelRef("churn", alias="champion"),
            verdict="PROMOTE",
            reasons=["auc 0.91 >= 0.8"],
            champion=None,
            details={"holdout_rows": 40},
            metrics={"auc": 0.5, "f1": 0.75, "rmse": math.inf},
        )
        assert decided == records.get_version(ModelRef("churn", version=1))
        assert decided.metrics == {"auc": 0.91, "loss": None, "f1": 0.75, "rmse": None}
        evaluation = decided.evaluation
        assert evaluation["holdout_rows"] == 40
        assert evaluation["metric_sources"] == {
            "auc": "evaluate",
            "f1": "holdout",
            "rmse": "holdout",
        }
        decision = evaluation["decision"]
        assert (decision["verdict"], decision["reasons"], decision["champion"]) == (
            "PROMOTE",
            ["auc 0.91 >= 0.8"],
            None,
        )
        assert isinstance(decision["at"], str)
        (event,) = events_of(audit_log, "model.evaluate")
        assert event.target == "model:churn@1"
        assert event.details["verdict"] == "PROMOTE"
        assert event.details["version"] == 1

    def test_a_later_decision_replaces_the_earlier_one(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        ref = ModelRef("churn", version=1)
        for verdict in ("HOLD", "REJECT"):
            records.record_decision(
                actor, ref, verdict=verdict, reasons=[], champion="churn@0", details={}, metrics={}
            )
        decided = records.get_version(ref)
        assert decided.evaluation["decision"]["verdict"] == "REJECT"
        assert decided.evaluation["decision"]["champion"] == "churn@0"

    def test_an_unknown_verdict_or_ref_writes_nothing(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        before: ModelVersion = records.insert_version(
            actor, "churn", sample_version(), model_description=None
        )
        ref = ModelRef("churn", version=1)
        with pytest.raises(RegistrationError, match="Unknown gate verdict 'MAYBE'"):
            records.record_decision(
                actor, ref, verdict="MAYBE", reasons=[], champion=None, details={}, metrics={"x": 1}
            )
        with pytest.raises(AliasNotFoundError):
            records.record_decision(
                actor,
                ModelRef("churn", alias="gone"),
                verdict="HOLD",
                reasons=[],
                champion=None,
                details={},
                metrics={},
            )
        assert records.get_version(ref) == before
        assert events_of(audit_log, "model.evaluate") == []

    # -- signatures ----------------------------------------------------------------------

    def test_a_version_has_no_signature_until_one_is_added(
        self, records: BaseModelRecords, actor: Actor
    ) -> None:
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        assert records.signatures(ModelRef("churn", version=1)) == []

    def test_signatures_are_appended_and_come_back_exactly(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        records.insert_version(actor, "churn", sample_version("a"), model_description=None)
        records.insert_version(actor, "churn", sample_version("b"), model_description=None)
        records.set_aliases(actor, "churn", 2, ["champion"], reason=None)
        first = records.add_signature(
            actor, ModelRef("churn", version=2), sample_signature("release", "a")
        )
        second = records.add_signature(
            actor, ModelRef("churn", alias="champion"), sample_signature("audit", "b")
        )
        again = records.add_signature(
            actor, ModelRef("churn", version=2), sample_signature("release", "c")
        )
        assert (first.name, first.version, first.key_name) == ("churn", 2, "release")
        assert first.signature == sample_signature("release", "a").signature
        assert first.public_key == "A" * 43 + "="
        assert first.statement_hash == "a" * 64
        assert first.actor == actor.name
        assert records.signatures(ModelRef("churn", version=2)) == [first, second, again]
        assert records.signatures(ModelRef("churn", alias="champion")) == [first, second, again]
        assert records.signatures(ModelRef("churn", version=1)) == []
        signed = events_of(audit_log, "model.sign")
        assert [e.target for e in signed] == ["model:churn@2"] * 3
        assert signed[0].details == {
            "version": 2,
            "key_name": "release",
            "public_key": "A" * 43 + "=",
            "statement_hash": "a" * 64,
        }
        assert all("signature" not in e.details for e in signed)

    def test_signing_an_unknown_version_writes_nothing(
        self, records: BaseModelRecords, actor: Actor, audit_log: AuditLog
    ) -> None:
        with pytest.raises(ModelNotFoundError):
            records.add_signature(actor, ModelRef("churn", version=1), sample_signature())
        records.insert_version(actor, "churn", sample_version(), model_description=None)
        with pytest.raises(ModelVersionNotFoundError):
            records.add_signature(actor, ModelRef("churn", version=7), sample_signature())
        with pytest.raises(AliasNotFoundError):
            records.signatures(ModelRef("churn", alias="gone"))
        assert events_of(audit_log, "model.sign") == []
        assert records.signatures(ModelRef("churn", version=1)) == []
