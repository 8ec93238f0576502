"""The check records in the metadata store's SQL tables.

``check_results``, ``gate_decisions`` and ``data_schemas`` are declared in
``conveyor.store._check_models`` (so the store's metadata holds the whole schema); this
module is the only one of :mod:`conveyor.checks` that reads or writes them.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.checks._base import CheckResult, Subject, json_safe
from conveyor.checks._decision import GateDecision
from conveyor.checks._records_base import BaseCheckRecords, CheckRecord, SchemaRecord
from conveyor.store._check_models import CheckResultRow, DataSchemaRow, GateDecisionRow

if TYPE_CHECKING:
    from conveyor.checks._suite import SuiteResult
    from conveyor.core import Actor
    from conveyor.store import MetadataStore, WriteTx


class SqlCheckRecords(BaseCheckRecords):
    """Check records in a :class:`~conveyor.store.MetadataStore` (SQLite or PostgreSQL).

    Args:
        store: The open metadata store; every write is one audited transaction of it.

    Example:
        >>> records = SqlCheckRecords(ws.store)  # doctest: +SKIP
        >>> records.latest_decision("churn@3").decision  # doctest: +SKIP
        'PROMOTE'
    """

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"SqlCheckRecords({self._store!r})"

    # -- check results -------------------------------------------------------------------

    def record_suite(self, actor: Actor, suite: SuiteResult) -> None:
        now = datetime.now(UTC)
        details = {"suite_id": suite.suite_id, "checks": len(suite.results), **suite.counts}
        with self._store.write(actor, "checks.record", str(suite.subject), details) as tx:
            for r in suite.results:
                tx.session.add(
                    CheckResultRow(
                        subject_kind=r.subject.kind,
                        subject_ref=r.subject.ref,
                        check=r.name,
                        passed=r.passed,
                        status=r.status,
                        severity=r.severity,
                        value=json_safe(r.value),
                        threshold=json_safe(r.threshold),
                        explanation=r.explanation,
                        details=json_safe(dict(r.details)),
                        suite_id=suite.suite_id,
                        duration_s=r.duration_s,
                        at=now,
                        actor=actor.name,
                    )
                )

    def list_results(
        self, subject_kind: str, subject_ref: str, *, suite_id: str | None = None
    ) -> list[CheckRecord]:
        query = select(CheckResultRow).where(
            CheckResultRow.subject_kind == subject_kind, CheckResultRow.subject_ref == subject_ref
        )
        if suite_id is not None:
            query = query.where(CheckResultRow.suite_id == suite_id)
        with self._store.read() as session:
            rows = session.scalars(query.order_by(CheckResultRow.id)).all()
            return [_record(row) for row in rows]

    def latest_results(self) -> dict[str, CheckRecord]:
        newest = (
            select(func.max(CheckResultRow.id).label("id"))
            .group_by(CheckResultRow.check)
            .subquery()
        )
        query = (
            select(CheckResultRow)
            .join(newest, CheckResultRow.id == newest.c.id)
            .order_by(CheckResultRow.check)
        )
        with self._store.read() as session:
            return {row.check: _record(row) for row in session.scalars(query)}

    # -- gate decisions ------------------------------------------------------------------

    def record_decision(self, actor: Actor, decision: GateDecision) -> GateDecision:
        stamped = dataclasses.replace(decision, at=datetime.now(UTC), actor=actor.name)
        target = f"{decision.subject.kind}:{decision.subject.ref}"
        details: dict[str, Any] = {
            "decision": decision.decision,
            "suite_id": decision.suite_id,
            "champion": decision.champion_ref,
            "reasons": list(decision.reasons),
        }
        with self._store.write(actor, "gate.decide", target, details) as tx:
            tx.session.add(
                GateDecisionRow(
                    subject_kind=decision.subject.kind,
                    subject_ref=decision.subject.ref,
                    decision=decision.decision,
                    reasons=list(decision.reasons),
                    champion_ref=decision.champion_ref,
                    suite_id=decision.suite_id,
                    at=stamped.at,
                    actor=stamped.actor,
                )
            )
        return stamped

    def list_decisions(self, subject_kind: str, subject_ref: str) -> list[GateDecision]:
        query = (
            select(GateDecisionRow)
            .where(
                GateDecisionRow.subject_kind == subject_kind,
                GateDecisionRow.subject_ref == subject_ref,
            )
            .order_by(GateDecisionRow.id)
        )
        with self._store.read() as session:
            return [_decision(row) for row in session.scalars(query).all()]

    def has_decisions(self) -> bool:
        with self._store.read() as session:
            return session.scalars(select(GateDecisionRow.id).limit(1)).first() is not None

    # -- data schemas --------------------------------------------------------------------

    def add_schema(
        self,
        actor: Actor,
        dataset: str,
        from_dataset_version: int,
        document: dict[str, Any],
    ) -> tuple[SchemaRecord, bool]:
        def store(tx: WriteTx) -> SchemaRecord:
            latest = _latest_schema_row(tx.session, dataset)
            if (
                latest is not None
                and latest.schema == document
                and latest.from_dataset_version == from_dataset_version
            ):
                raise _Unchanged(_schema(latest))
            number = 1 if latest is None else latest.version + 1
            row = DataSchemaRow(
                dataset=dataset,
                version=number,
                from_dataset_version=from_dataset_version,
                schema=document,
                created_at=datetime.now(UTC),
                created_by=actor.name,
            )
            tx.session.add(row)
            tx.session.flush()
            tx.details.update(schema_version=number, from_dataset_version=from_dataset_version)
            return _schema(row)

        try:
            stored = self._store.transact(actor, "schema.infer", f"dataset:{dataset}", store)
        except _Unchanged as same:
            return same.record, False
        return stored, True

    def list_schemas(self, dataset: str) -> list[SchemaRecord]:
        query = (
            select(DataSchemaRow)
            .where(DataSchemaRow.dataset == dataset)
            .order_by(DataSchemaRow.version)
        )
        with self._store.read() as session:
            return [_schema(row) for row in session.scalars(query).all()]

    def latest_schema(self, dataset: str) -> SchemaRecord | None:
        with self._store.read() as session:
            row = _latest_schema_row(session, dataset)
            return None if row is None else _schema(row)

    def has_schemas(self) -> bool:
        with self._store.read() as session:
            return session.scalars(select(DataSchemaRow.id).limit(1)).first() is not None


class _Unchanged(Exception):
    """Rolls the transaction back (no audit event) when the schema is already stored."""

    def __init__(self, record: SchemaRecord) -> None:
        super().__init__(record.ref)
        self.record = record


def _latest_schema_row(session: Session, dataset: str) -> DataSchemaRow | None:
    latest = (
        select(func.max(DataSchemaRow.version))
        .where(DataSchemaRow.dataset == dataset)
        .scalar_subquery()
    )
    row: DataSchemaRow | None = session.scalars(
        select(DataSchemaRow).where(
            DataSchemaRow.dataset == dataset, DataSchemaRow.version == latest
        )
    ).first()
    return row


def _record(row: CheckResultRow) -> CheckRecord:
    result = CheckResult(
        name=row.check,
        subject=Subject(row.subject_kind, row.subject_ref),  # type: ignore[arg-type]
        passed=row.passed,
        status=row.status,  # type: ignore[arg-type]
        severity=row.severity,  # type: ignore[arg-type]
        value=row.value,
        threshold=row.threshold,
        explanation=row.explanation,
        details=row.details,
        duration_s=row.duration_s or 0.0,
    )
    return CheckRecord(result=result, suite_id=row.suite_id, at=row.at, actor=row.actor)


def _decision(row: GateDecisionRow) -> GateDecision:
    return GateDecision(
        decision=row.decision,  # type: ignore[arg-type]
        reasons=tuple(row.reasons),
        subject=Subject(row.subject_kind, row.subject_ref),  # type: ignore[arg-type]
        champion_ref=row.champion_ref,
        suite_id=row.suite_id,
        at=row.at,
        actor=row.actor,
    )


def _schema(row: DataSchemaRow) -> SchemaRecord:
    return SchemaRecord(
        dataset=row.dataset,
        version=row.version,
        from_dataset_version=row.from_dataset_version,
        document=dict(row.schema),
        created_at=row.created_at,
        created_by=row.created_by,
    )
