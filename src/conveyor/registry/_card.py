"""Model cards: Markdown from a Jinja2 template, and the same card as one self-contained HTML page.

The HTML is the Markdown rendered with raw HTML disabled (so a description cannot inject
markup) inside a page with inline styles only: no scripts, fonts or links to fetch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core import isoformat
from conveyor.registry._models import ModelCard, ModelVersion
from conveyor.registry._personal import signature_pii
from conveyor.registry._refs import format_versions
from conveyor.registry._signing import SignatureCheck
from conveyor.registry._text import inert

if TYPE_CHECKING:
    # Jinja2 and markdown-it load when a card is rendered, not with the registry.
    from jinja2 import Environment

_TEMPLATES = Path(__file__).parent / "templates"
#: Rows of a long importance table or profile kept in the card.
_MAX_ROWS = 25
_PRIVATE = "personal data (not shown)"


def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # Markdown is not HTML: autoescaping would put entities into the text.
    return Environment(  # noqa: S701 - Markdown output; HTML is escaped by markdown-it
        loader=FileSystemLoader(_TEMPLATES),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _cell(value: Any) -> str:
    # Table cells: one line, no pipe characters breaking the row, no control characters.
    return inert(str(value).replace("\n", " "), newlines=False).replace("|", "\\|")


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _cell(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _column_summary(stats: dict[str, Any]) -> str:
    if stats.get("kind") == "numeric":
        return (
            f"min {_number(stats.get('min'))}, mean {_number(stats.get('mean'))}, "
            f"max {_number(stats.get('max'))}"
        )
    top = stats.get("top") or []
    if top:
        shown = ", ".join(f"{_cell(t.get('value'))} ({t.get('count')})" for t in top[:3])
        return f"{stats.get('distinct', '?')} distinct; top: {shown}"
    return _cell(stats.get("kind", ""))


def _dataset_context(entry: dict[str, Any], private: set[str]) -> dict[str, Any]:
    profile = entry.get("profile") or {}
    columns = [
        {
            "name": _cell(name),
            "type": _cell(stats.get("type", "")),
            "nulls": stats.get("nulls", ""),
            # A profile's top values of a personal-data column are personal data.
            "summary": _PRIVATE if name in private else _column_summary(stats),
        }
        for name, stats in list((profile.get("columns") or {}).items())[:_MAX_ROWS]
    ]
    return {**entry, "name": _cell(entry.get("name")), "columns": columns}


def _checks(version: ModelVersion) -> list[str]:
    checks: list[str] = []
    inputs = (version.signature or {}).get("inputs") or []
    checks.append(
        f"Signature: {len(inputs)} input column(s) recorded."
        if inputs
        else "Signature: none recorded; inputs are not validated."
    )
    checks.append(_onnx_status(version.onnx))
    recorded = version.evaluation.get("checks")
    if isinstance(recorded, dict):
        checks.extend(f"{_cell(k)}: {_cell(v)}" for k, v in sorted(recorded.items()))
    extra = version.tags.get("checks")
    if isinstance(extra, dict):
        checks.extend(f"{_cell(k)}: {_cell(v)}" for k, v in sorted(extra.items()))
    return checks


def _onnx_status(onnx: dict[str, Any] | None) -> str:
    """One line on the ONNX twin: its parity, or why there is none."""
    record = onnx or {}
    parity = record.get("parity")
    if parity:
        verdict = "passed" if parity.get("passed") else "FAILED (the twin is not served)"
        return (
            f"ONNX twin parity: {verdict} on {parity.get('rows')} rows, max abs diff "
            f"{_number(parity.get('max_abs_diff'))}."
        )
    reason = record.get("reason")
    if reason:
        return f"ONNX twin: not created: {_cell(reason)} (the model is served by its own flavor)."
    return "ONNX twin: none (the model is served by its own flavor)."


def _metrics(version: ModelVersion) -> list[tuple[str, str, str]]:
    """Metric, value and the step that logged it (``-`` when not recorded)."""
    sources = version.evaluation.get("metric_sources") or {}
    return [
        (_cell(k), _number(v), _cell(sources.get(k) or "-") if isinstance(sources, dict) else "-")
        for k, v in sorted(version.metrics.items())
    ]


def _decision(version: ModelVersion) -> dict[str, Any] | None:
    decision = version.evaluation.get("decision")
    if not isinstance(decision, dict):
        return None
    return {
        "verdict": _cell(decision.get("verdict")),
        "champion": _cell(decision.get("champion") or "none (absolute checks only)"),
        "reasons": [_cell(r) for r in decision.get("reasons") or []],
    }


def _code(lineage: dict[str, Any]) -> str:
    code = lineage.get("code_version")
    if not isinstance(code, dict) or not code.get("commit"):
        return "not recorded (outside a git repository)"
    dirty = " with uncommitted changes" if code.get("dirty") else ""
    return f"commit `{code['commit']}`{dirty}"


def card_context(
    version: ModelVersion, datasets: list[dict[str, Any]], versions: list[int]
) -> dict[str, Any]:
    """Everything the card templates show, already formatted."""
    importance = sorted(
        (version.importance or {}).items(), key=lambda kv: -abs(float(kv[1] or 0.0))
    )[:_MAX_ROWS]
    signature = version.signature or {}
    outputs = [_cell(o.get("name")) for o in (signature.get("outputs") or [])]
    private = signature_pii(signature)
    return {
        "v": version,
        "created": isoformat(version.created_at),
        "versions": format_versions(versions),
        "datasets": [_dataset_context(d, set(private)) for d in datasets],
        "metrics": _metrics(version),
        "metrics_step": _cell(version.evaluation.get("metrics_step") or ""),
        "holdout_rows": version.evaluation.get("holdout_rows"),
        "decision": _decision(version),
        "description": inert(version.description) if version.description else "",
        "checks": _checks(version),
        "importance": [(_cell(k), _number(v)) for k, v in importance],
        "importance_reason": _cell(version.evaluation.get("importance_reason") or ""),
        "inputs": [
            {
                "name": _cell(c.get("name")),
                "type": _cell(c.get("type")) + (" (personal data)" if c.get("pii") is True else ""),
                "nullable": c.get("nullable"),
            }
            for c in (signature.get("inputs") or [])
        ],
        "pii": [_cell(name) for name in private],
        "outputs": outputs,
        "lineage": version.lineage,
        "code": _code(version.lineage),
        "dataset_refs": [
            f"{d.get('name')}@{d.get('version')}" for d in version.lineage.get("datasets") or []
        ],
        "params": _cell(json.dumps(version.params, sort_keys=True)) if version.params else "",
    }


def signatures_section(signed: SignatureCheck) -> str:
    """The card's ``Signatures`` section: each signature's key name, key and validity."""
    lines = ["", "## Signatures", ""]
    if not signed.results:
        lines.append("Not signed.")
        return "\n".join(lines) + "\n"
    lines += ["| key name | public key | valid | signed (UTC) | by |", "|---|---|---|---|---|"]
    for r in signed.results:
        state = "yes" if r.valid else "no"
        note = f" ({_cell(r.reason)})" if r.reason else ""
        lines.append(
            f"| {_cell(r.key_name)} | `{_cell(r.public_key)}` | {state}{note} | "
            f"{isoformat(r.at)} | {_cell(r.actor)} |"
        )
    return "\n".join(lines) + "\n"


def render_card(
    version: ModelVersion,
    datasets: list[dict[str, Any]],
    versions: list[int],
    signed: SignatureCheck | None = None,
) -> ModelCard:
    """Render the card of ``version`` (``datasets``: lineage entries with their profiles;
    ``signed``: its checked signatures, shown in a last section)."""
    env = _environment()
    markdown = env.get_template("card.md.j2").render(card_context(version, datasets, versions))
    if signed is not None:
        markdown = markdown.rstrip("\n") + "\n" + signatures_section(signed)
    return ModelCard(markdown=markdown, html=_html(version.ref, markdown))


def add_card_section(card: ModelCard, title: str, section: str) -> ModelCard:
    """``card`` with the Markdown ``section`` appended (its HTML rendered again).

    What sections computed above the registry use (the cost of the version, from
    :mod:`conveyor.cost`). Raw HTML in ``section`` is shown as text, as in the rest of the card.

    Args:
        card: A rendered card.
        title: The page title (the version's ``name@version``).
        section: Markdown starting with its ``## Heading``.

    Returns:
        The new card.
    """
    markdown = card.markdown.rstrip("\n") + "\n\n" + section.strip("\n") + "\n"
    return ModelCard(markdown=markdown, html=_html(title, markdown))


def _html(title: str, markdown: str) -> str:
    from jinja2 import Environment, FileSystemLoader
    from markdown_it import MarkdownIt
    from markupsafe import Markup, escape

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    page = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True)
    return page.get_template("card.html.j2").render(
        title=escape(title),
        body=Markup(body),  # noqa: S704 - markdown-it escaped it
    )
