"""ML tests and quality gates: checks of datasets, runs and models, gates, and reports.

A :class:`Check` measures one property of a subject (a dataset version, a run or a model
version) and returns a :class:`CheckResult` saying what was measured versus what was
required. Checks are found by name in a registry (built-ins declared by import path,
plug-ins through the ``conveyor.checks`` entry-point group, user classes through
:func:`register_check`). :func:`run_checks` runs a list of :class:`CheckSpec` against a
lazily loaded :class:`CheckContext` (predictions computed once per model per suite),
records every result, and turns a raising check into an ``"error"`` result while the
others still run. :func:`evaluate_gates` decides PROMOTE, HOLD or REJECT with every reason,
and :func:`write_reports` writes Markdown, JUnit XML, JSON and a self-contained HTML
report. Results, decisions and data schemas are kept behind :class:`BaseCheckRecords`
(:func:`check_records` gives a workspace's; :class:`SqlCheckRecords` keeps them in the
metadata store).
"""

from __future__ import annotations

from conveyor.checks._base import (
    SEVERITIES,
    STATUSES,
    SUBJECT_KINDS,
    Check,
    CheckError,
    CheckParams,
    CheckResult,
    Severity,
    Status,
    Subject,
    SubjectKind,
    json_safe,
)
from conveyor.checks._config import specs_from_config, validate_config
from conveyor.checks._context import CheckContext
from conveyor.checks._decision import Decision, GateDecision
from conveyor.checks._gates import FIRST_MODEL_REASON, evaluate_gates, expected_divergence
from conveyor.checks._plugins import (
    ENTRY_POINT_GROUP,
    CheckRegistryError,
    UnknownCheckError,
    available_checks,
    get_check,
    load_entry_points,
    register_check,
    unregister_check,
)
from conveyor.checks._records import (
    check_records,
    latest_decision,
    list_decisions,
    list_results,
    record_decision,
    record_suite,
)
from conveyor.checks._records_base import BaseCheckRecords, CheckRecord, SchemaRecord
from conveyor.checks._sql import SqlCheckRecords
from conveyor.checks._suite import CheckSpec, CheckSuite, Gate, SuiteResult, run_checks
from conveyor.checks.reports import (
    render_html,
    render_json,
    render_junit,
    render_markdown,
    write_reports,
)

__all__ = [
    "BaseCheckRecords",
    "Check",
    "CheckContext",
    "CheckError",
    "CheckParams",
    "CheckRecord",
    "CheckRegistryError",
    "CheckResult",
    "CheckSpec",
    "CheckSuite",
    "Decision",
    "ENTRY_POINT_GROUP",
    "FIRST_MODEL_REASON",
    "Gate",
    "GateDecision",
    "SEVERITIES",
    "STATUSES",
    "SUBJECT_KINDS",
    "SchemaRecord",
    "Severity",
    "SqlCheckRecords",
    "Status",
    "Subject",
    "SubjectKind",
    "SuiteResult",
    "UnknownCheckError",
    "available_checks",
    "check_records",
    "evaluate_gates",
    "expected_divergence",
    "get_check",
    "json_safe",
    "latest_decision",
    "list_decisions",
    "list_results",
    "load_entry_points",
    "record_decision",
    "record_suite",
    "register_check",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "run_checks",
    "specs_from_config",
    "unregister_check",
    "validate_config",
    "write_reports",
]
