"""Storing and reading check results and gate decisions (``check_results``, ``gate_decisions``).

A suite's results are written in one audited transaction (``checks.record``); a gate
decision in another (``gate.decide``, target ``model:name@v``). Reads return the same
dataclasses the runner produced, with when and by whom they were recorded.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from conveyor.checks._base import CheckResult, Subject, json_safe
from conveyor.checks._gates import GateDecision
from conveyor.checks._suite import SuiteResult
from conveyor.store import CheckResultRow, GateDecisionRow

if TYPE_CHECKING:
    from conveyor.workspace import Workspace


@dataclass(frozen=True)
class CheckRecord:
    """One stored check result with its suite, time and actor."""

    result: CheckResult
    suite_id: str
    at: datetime
    actor: str


def record_suite(ws: Workspace, suite: SuiteResult) -> None:
    """Store every result of ``suite`` against its subject in one audited transaction."""
    now = datetime.now(UTC)
    details = {"suite_id": suite.suite_id, "checks": len(suite.results), **suite.counts}
    with ws.store.write(ws.actor, "checks.record", str(suite.subject), details) as tx:
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
                    actor=ws.actor.name,
                )
            )


def list_results(
    ws: Workspace, subject_kind: str, subject_ref: str, *, suite_id: str | None = None
) -> list[CheckRecord]:
    """The stored results about one subject, oldest first (optionally of one suite)."""
    query = select(CheckResultRow).where(
        CheckResultRow.subject_kind == subject_kind, CheckResultRow.subject_ref == subject_ref
    )
    if suite_id is not None:
        query = query.where(CheckResultRow.suite_id == suite_id)
    with ws.store.read() as session:
        rows = session.scalars(query.order_by(CheckResultRow.id)).all()
        return [_record(row) for row in rows]


def record_decision(ws: Workspace, decision: GateDecision) -> GateDecision:
    """Store ``decision`` (audited as ``gate.decide``); return it with actor and time set."""
    stamped = dataclasses.replace(decision, at=datetime.now(UTC), actor=ws.actor.name)
    target = f"{decision.subject.kind}:{decision.subject.ref}"
    details: dict[str, Any] = {
        "decision": decision.decision,
        "suite_id": decision.suite_id,
        "champion": decision.champion_ref,
        "reasons": list(decision.reasons),
    }
    with ws.store.write(ws.actor, "gate.decide", target, details) as tx:
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


def list_decisions(ws: Workspace, subject_kind: str, subject_ref: str) -> list[GateDecision]:
    """Every decision recorded about one subject, oldest first."""
    query = (
        select(GateDecisionRow)
        .where(
            GateDecisionRow.subject_kind == subject_kind,
            GateDecisionRow.subject_ref == subject_ref,
        )
        .order_by(GateDecisionRow.id)
    )
    with ws.store.read() as session:
        return [_decision(row) for row in session.scalars(query).all()]


def latest_decision(ws: Workspace, model_ref: str) -> GateDecision | None:
    """The newest decision about model version ``model_ref`` (``"name@v"``), or ``None``."""
    decisions = list_decisions(ws, "model", model_ref)
    return decisions[-1] if decisions else None


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
