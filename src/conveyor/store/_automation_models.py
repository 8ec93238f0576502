"""The automation tables: the agent lease, the event lineage, and per-trigger state.

Owned by :mod:`conveyor.automation`; declared here so ``Base.metadata`` holds the whole
schema and migration ``0008`` can be checked against it. ``automation_events`` is
append-only: each row is one decision of the agent, linked to the step that caused it
(``parent_id``), and its ``idempotency_key`` is what makes a restarted agent finish a job
once instead of twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from conveyor.core import redact_value
from conveyor.store._models import Base


class AgentLeaseRow(Base):
    """Who may act: the holder of a named lease until ``expires_at``."""

    __tablename__ = "agent_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime]


class AutomationEventRow(Base):
    """One decision of the agent (trigger, run, register, gate, deploy, outcome, error)."""

    __tablename__ = "automation_events"
    __table_args__ = (
        Index("ix_automation_events_trigger", "trigger"),
        Index("ix_automation_events_model", "model"),
        Index("ix_automation_events_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    parent_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    idempotency_key: Mapped[str] = mapped_column(String(512), unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))

    @validates("reason", "details")
    def _redact(self, _key: str, value: Any) -> Any:
        # Events are shown by `conveyor events` and kept forever: a reason or detail that
        # quotes a URL (a failed webhook, a store error) must not carry its credentials.
        return redact_value(value)


class TriggerStateRow(Base):
    """What the agent remembers about one trigger between evaluations and across crashes.

    ``cursor`` identifies the last condition acted on (cron slot, dataset version, report
    id); ``running`` with ``current_event_id`` marks a firing whose job is not finished;
    ``attempt`` holds the process (host, pid, start) that last started its training, so a
    restarted agent can find what a killed one already produced.
    """

    __tablename__ = "trigger_state"

    trigger: Mapped[str] = mapped_column(String(128), primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    armed_at: Mapped[datetime]
    last_fired_at: Mapped[datetime | None]
    cooldown_until: Mapped[datetime | None]
    running: Mapped[bool] = mapped_column(Boolean)
    current_event_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite")
    )
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer)
