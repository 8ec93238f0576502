"""The contract of :class:`~conveyor.registry.BaseModelRecords`, as a test suite.

Subclass :class:`ModelRecordsContract` and provide the fixtures ``records`` (a fresh,
empty implementation), ``actor`` (who writes) and ``audit_log`` (a callable returning the
audit events recorded so far, oldest first).

This module holds registering, reading, archiving and history; the aliases are in
``_registry_aliases``, gate decisions and signatures in ``_registry_reviews``, and the
sample versions and signatures in ``_registry_samples`` (re-exported here).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from conveyor.core import Actor
from conveyor.registry import (
    BaseModelRecords,
    ModelNotFoundError,
    ModelRef,
    ModelStateError,
    ModelVersionNotFoundError,
)
from conveyor.testing.records._registry_aliases import ModelAliasTests
from conveyor.testing.records._registry_reviews import ModelReviewTests
from conveyor.testing.records._registry_samples import AuditLog as AuditLog  # noqa: PLC0414 - re-exported
from conveyor.testing.records._registry_samples import events_of
from conveyor.testing.records._registry_samples import sample_signature as sample_signature  # noqa: PLC0414 - re-exported
from conveyor.testing.records._registry_samples import sample_version as sample_version  # noqa: PLC0414 - re-exported


class ModelRecordsContract(ModelAliasTests, ModelReviewTests):
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
