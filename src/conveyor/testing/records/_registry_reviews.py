"""The model records contract's reviews of a version: gate decisions and signatures.

:class:`ModelReviewTests` is one part of
:class:`~conveyor.testing.records.ModelRecordsContract`, which mixes it in; the
subclass provides the fixtures its tests use (``records``, ``actor``, ``audit_log``).
"""

from __future__ import annotations

import math

import pytest

from conveyor.core import Actor
from conveyor.registry import (
    AliasNotFoundError,
    BaseModelRecords,
    ModelNotFoundError,
    ModelRef,
    ModelVersion,
    ModelVersionNotFoundError,
    RegistrationError,
)
from conveyor.testing.records._registry_samples import (
    AuditLog,
    events_of,
    sample_signature,
    sample_version,
)


class ModelReviewTests:
    """What a registered version gains later: the gate's decision and release signatures."""

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
