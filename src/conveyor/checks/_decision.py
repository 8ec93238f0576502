"""The verdict of the gates on one candidate: :class:`GateDecision`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from conveyor.checks._base import Subject

Decision = Literal["PROMOTE", "HOLD", "REJECT"]


@dataclass(frozen=True)
class GateDecision:
    """The verdict on one candidate.

    Attributes:
        decision: ``"PROMOTE"``, ``"HOLD"`` or ``"REJECT"``.
        reasons: Every reason, blocking ones first.
        subject: The candidate judged.
        champion_ref: The champion it was compared with, or ``None`` (first model).
        suite_id: The suite whose results were judged.
        at: When the decision was made (UTC).
        actor: Who recorded it (empty until recorded).
    """

    decision: Decision
    reasons: tuple[str, ...]
    subject: Subject
    champion_ref: str | None
    suite_id: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    actor: str = ""

    @property
    def passed(self) -> bool:
        """True when the candidate may be promoted."""
        return self.decision == "PROMOTE"

    def to_dict(self) -> dict[str, Any]:
        """A strict-JSON-able dict of the decision."""
        return {
            "decision": self.decision,
            "reasons": list(self.reasons),
            "subject": {"kind": self.subject.kind, "ref": self.subject.ref},
            "champion_ref": self.champion_ref,
            "suite_id": self.suite_id,
            "at": self.at.isoformat(),
            "actor": self.actor,
        }
