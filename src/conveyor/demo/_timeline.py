"""The story as told by the records: a timeline of every event with its reason, and figures.

Nothing here is remembered by the demo itself except the moments it chose (when the season
changed); every event comes from the audit trail, the deployment history or the automation
events, and every figure from the prediction log joined with the labels that came back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from conveyor.demo._project import ENV

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

#: Audit actions worth a line of the story (deployments and the agent have their own records).
_AUDIT_ACTIONS = ("data.add", "schema.infer", "model.register", "gate.decide", "model.alias.set")


@dataclass(frozen=True)
class TimelineEvent:
    """One event of the story.

    Attributes:
        at: When it happened (UTC).
        source: ``audit``, ``deployment``, ``automation``, ``monitoring`` or ``traffic``.
        what: What happened, in a few words.
        reason: Why, as recorded.
    """

    at: datetime
    source: str
    what: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready view."""
        return {
            "at": self.at.isoformat(),
            "source": self.source,
            "what": self.what,
            "reason": self.reason,
        }


def collect(ws: Workspace, marks: list[TimelineEvent]) -> list[TimelineEvent]:
    """Every event of the story, oldest first: records plus the demo's own ``marks``."""
    events = list(marks)
    for audit in ws.audit_log():
        if audit.action.startswith(_AUDIT_ACTIONS) or audit.action.startswith("monitor"):
            events.append(
                TimelineEvent(audit.at, "audit", f"{audit.action} {audit.target}", _why(audit))
            )
    for transition in ws.deployments.history(ENV):
        serving = ", ".join(
            f"{v.model}@{v.version} {v.role} {v.weight:g}%" for v in transition.variants
        )
        forced = (transition.details or {}).get("force_reason")
        reason = transition.reason + (f" [forced: {forced}]" if forced else "")
        events.append(
            TimelineEvent(
                transition.at,
                "deployment",
                f"r{transition.revision} {transition.action} -> {transition.to_state}: {serving}",
                reason,
            )
        )
    from conveyor.automation import Agent

    for event in Agent(ws).events():
        events.append(
            TimelineEvent(event.at, "automation", f"{event.kind} ({event.trigger})", event.reason)
        )
    return sorted(events, key=lambda e: e.at)


def _why(audit: Any) -> str:
    details: dict[str, Any] = dict(audit.details or {})
    for key in ("reason", "message"):
        if details.get(key):
            return str(details[key])
    shown = {
        k: v
        for k, v in details.items()
        if k in ("version", "decision", "alias", "rows", "verdict", "reasons", "kind")
    }
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "-"


@dataclass(frozen=True)
class Figures:
    """The headline figures.

    Attributes:
        new_data_to_serving_s: From the new season's data version to the new model serving
            all traffic.
        requests: Prediction requests the server answered.
        rows: Rows predicted.
        accuracy: ``{(label, phase): (accuracy, labels)}``, e.g. ``("old v1", "after")``.
        broken_rows: Rows the broken model answered before it was rolled back.
    """

    new_data_to_serving_s: float | None
    requests: int
    rows: int
    accuracy: dict[tuple[str, str], tuple[float, int]]
    broken_rows: int


def accuracy_by_version(
    log: pd.DataFrame, shift_at: datetime, names: dict[int, str]
) -> dict[tuple[str, str], tuple[float, int]]:
    """Accuracy of each named version before and after ``shift_at``, from labelled rows."""
    if len(log) == 0 or "label" not in log:
        return {}
    ok = log[(log["status"] == "ok") if "status" in log else slice(None)]
    ok = ok[ok["label"].notna()]
    result: dict[tuple[str, str], tuple[float, int]] = {}
    for version, name in names.items():
        rows = ok[ok["version"] == version]
        for phase, part in (
            ("before", rows[rows["at"] < shift_at]),
            ("after", rows[rows["at"] >= shift_at]),
        ):
            if len(part):
                hits = part["prediction"].astype(int) == part["label"].astype(int)
                result[(name, phase)] = (float(hits.mean()), len(part))
    return result
