"""The text reports: Markdown, JUnit XML and JSON, and :func:`write_reports`."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.checks._base import CheckResult, json_safe
from conveyor.checks._decision import GateDecision
from conveyor.checks._suite import SuiteResult

#: File name written by :func:`write_reports` per format.
REPORT_FILES = {
    "markdown": "report.md",
    "junit": "junit.xml",
    "json": "report.json",
    "html": "report.html",
}
_STATUS_WORD = {"passed": "passed", "failed": "FAILED", "error": "ERROR", "skipped": "skipped"}


def format_value(value: Any) -> str:
    """A short human form of a measured value or threshold."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={format_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def _cell(value: Any) -> str:
    # One table line: no pipes breaking the row, no newlines.
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(suite: SuiteResult, decision: GateDecision | None = None) -> str:
    """The pull-request comment: verdict, table of checks, then details of what failed."""
    counts = suite.counts
    lines: list[str] = []
    if decision is not None:
        lines.append(f"**Gate: {decision.decision}**")
        lines.append("")
        lines.append(
            f"Candidate `{decision.subject.ref}` ({decision.subject.kind})"
            + (f" vs champion `{decision.champion_ref}`" if decision.champion_ref else "")
            + "."
        )
        lines.append("")
        lines.extend(f"- {_cell(reason)}" for reason in decision.reasons)
    else:
        verdict = "PASSED" if not suite.failed and not suite.errored else "FAILED"
        lines.append(f"**Checks: {verdict}**")
        lines.append("")
        lines.append(f"Subject `{suite.subject.ref}` ({suite.subject.kind}).")
    lines.append("")
    lines.append(
        f"{len(suite.results)} checks: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['error']} errors, {counts['skipped']} skipped."
    )
    lines.append("")
    lines.append("| check | status | value | threshold | severity |")
    lines.append("| --- | --- | --- | --- | --- |")
    for r in suite.results:
        lines.append(
            f"| {_cell(r.name)} | {_STATUS_WORD[r.status]} | {_cell(format_value(r.value))} | "
            f"{_cell(format_value(r.threshold))} | {r.severity} |"
        )
    problems = [r for r in suite.results if r.status in ("failed", "error")]
    if problems:
        lines.append("")
        lines.append("### Details")
        for r in problems:
            lines.append("")
            lines.append(f"#### {r.name} ({_STATUS_WORD[r.status]}, {r.severity})")
            lines.append("")
            lines.append(r.explanation or "(no explanation)")
    lines.append("")
    lines.append(f"<sub>suite {suite.suite_id}</sub>")
    return "\n".join(lines) + "\n"


def render_junit(suite: SuiteResult, decision: GateDecision | None = None) -> str:
    """One ``<testsuite>`` with a ``<testcase>`` per check (failure / error / skipped)."""
    counts = suite.counts
    root = ET.Element("testsuites")
    node = ET.SubElement(
        root,
        "testsuite",
        {
            "name": f"conveyor checks: {suite.subject.ref}",
            "tests": str(len(suite.results)),
            "failures": str(counts["failed"]),
            "errors": str(counts["error"]),
            "skipped": str(counts["skipped"]),
            "time": f"{suite.duration_s:.3f}",
            "timestamp": suite.started_at.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    if decision is not None:
        props = ET.SubElement(node, "properties")
        ET.SubElement(props, "property", {"name": "gate", "value": decision.decision})
        ET.SubElement(props, "property", {"name": "suite_id", "value": suite.suite_id})
    for r in suite.results:
        case = ET.SubElement(
            node,
            "testcase",
            {
                "classname": f"conveyor.checks.{r.subject.kind}",
                "name": r.name,
                "time": f"{r.duration_s:.3f}",
            },
        )
        message = _junit_message(r)
        if r.status == "failed":
            ET.SubElement(
                case, "failure", {"message": message, "type": r.severity}
            ).text = r.explanation
        elif r.status == "error":
            error = ET.SubElement(case, "error", {"message": message, "type": r.severity})
            error.text = str(r.details.get("traceback") or r.explanation)
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", {"message": r.explanation})
        else:
            ET.SubElement(case, "system-out").text = r.explanation
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _junit_message(r: CheckResult) -> str:
    return f"{r.explanation} [value {format_value(r.value)}, threshold {format_value(r.threshold)}]"


def render_json(suite: SuiteResult, decision: GateDecision | None = None) -> str:
    """Everything as strict JSON (NaN and infinities become ``null``)."""
    payload = {
        "decision": decision.to_dict() if decision is not None else None,
        "suite": suite.to_dict(),
    }
    return json.dumps(json_safe(payload), indent=2, allow_nan=False, sort_keys=False) + "\n"


def write_reports(
    suite: SuiteResult,
    decision: GateDecision | None,
    report_dir: str | Path,
    *,
    profiles: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Path]:
    """Write all four reports into ``report_dir`` (created); return ``{format: path}``.

    Args:
        suite: The results.
        decision: The gate decision, if gates were evaluated.
        report_dir: Where to write (see :data:`REPORT_FILES` for the file names).
        profiles: Optional dataset profiles (``{"current": ..., "reference": ...}``) for
            per-feature distribution plots in the HTML report.
    """
    from conveyor.checks.reports._html import render_html

    folder = Path(report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    texts = {
        "markdown": render_markdown(suite, decision),
        "junit": render_junit(suite, decision),
        "json": render_json(suite, decision),
        "html": render_html(suite, decision, profiles=profiles),
    }
    out: dict[str, Path] = {}
    for fmt, text in texts.items():
        path = folder / REPORT_FILES[fmt]
        path.write_text(text, encoding="utf-8")
        out[fmt] = path
    return out
