"""Storing and reading check results and gate decisions of a workspace.

A suite's results are written in one audited transaction (``checks.record``); a gate
decision in another (``gate.decide``, target ``model:name@v``). Reads return the same
dataclasses the runner produced, with when and by whom they were recorded. Every function
goes through the workspace's check records (:func:`check_records`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.checks._records_base import BaseCheckRecords, CheckRecord
from conveyor.checks._sql import SqlCheckRecords

if TYPE_CHECKING:
    from conveyor.checks._decision import GateDecision
    from conveyor.checks._suite import SuiteResult
    from conveyor.workspace import Workspace


def check_records(ws: Workspace) -> BaseCheckRecords:
    """The check records of ``ws``: results, gate decisions and data schemas.

    The workspace's own instance (:meth:`~conveyor.workspace.Workspace.records`): the SQL
    records of a local workspace, the server's of a remote one.

    Example:
        >>> check_records(ws).has_decisions()  # doctest: +SKIP
        True
    """
    return ws.records(BaseCheckRecords, SqlCheckRecords)


def record_suite(ws: Workspace, suite: SuiteResult) -> None:
    """Store every result of ``suite`` against its subject in one audited transaction."""
    check_records(ws).record_suite(ws.actor, suite)


def list_results(
    ws: Workspace, subject_kind: str, subject_ref: str, *, suite_id: str | None = None
) -> list[CheckRecord]:
    """The stored results about one subject, oldest first (optionally of one suite)."""
    return check_records(ws).list_results(subject_kind, subject_ref, suite_id=suite_id)


def record_decision(ws: Workspace, decision: GateDecision) -> GateDecision:
    """Store ``decision`` (audited as ``gate.decide``); return it with actor and time set."""
    return check_records(ws).record_decision(ws.actor, decision)


def list_decisions(ws: Workspace, subject_kind: str, subject_ref: str) -> list[GateDecision]:
    """Every decision recorded about one subject, oldest first."""
    return check_records(ws).list_decisions(subject_kind, subject_ref)


def latest_decision(ws: Workspace, model_ref: str) -> GateDecision | None:
    """The newest decision about model version ``model_ref`` (``"name@v"``), or ``None``."""
    return check_records(ws).latest_decision(model_ref)
