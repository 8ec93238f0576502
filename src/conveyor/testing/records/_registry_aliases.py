"""The model records contract's aliases: set, moved together, removed, resolved.

:class:`ModelAliasTests` is one part of
:class:`~conveyor.testing.records.ModelRecordsContract`, which mixes it in; the
subclass provides the fixtures its tests use (``records``, ``actor``, ``audit_log``).
"""

from __future__ import annotations

import pytest

from conveyor.core import Actor
from conveyor.registry import (
    AliasNotFoundError,
    BaseModelRecords,
    ModelNotFoundError,
    ModelRef,
    ModelStateError,
    ModelVersionNotFoundError,
)
from conveyor.testing.records._registry_samples import AuditLog, events_of, sample_version


class ModelAliasTests:
    """How :class:`~conveyor.registry.BaseModelRecords` keeps the aliases of a model."""

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
