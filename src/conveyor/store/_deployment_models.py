"""The deployment tables: the current deployment per environment and its transition history.

Owned by :mod:`conveyor.deployments`; declared here so ``Base.metadata`` holds the whole
schema and migration ``0006`` can be checked against it. ``deployments`` holds one row per
environment (its current state, guarded by ``revision`` for optimistic concurrency);
``deployment_transitions`` is append-only, one row per revision. Documents use plain
``JSON`` (not JSONB) so weights come back exactly as they were written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from conveyor.core import redact_value
from conveyor.store._models import Base


class DeploymentRow(Base):
    """The current deployment of one environment (its past is in the transitions)."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    environment: Mapped[str] = mapped_column(String(128), unique=True)
    revision: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(32))
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    steps: Mapped[list[int]] = mapped_column(JSON)
    step_index: Mapped[int] = mapped_column(Integer)
    step_started_at: Mapped[datetime | None]
    stable_revision: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))


class DeploymentTransitionRow(Base):
    """One transition of an environment's deployment: revision ``revision`` came from it."""

    __tablename__ = "deployment_transitions"
    __table_args__ = (
        UniqueConstraint("environment", "revision"),
        Index("ix_deployment_transitions_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    environment: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    @validates("reason", "details")
    def _redact(self, _key: str, value: Any) -> Any:
        # History is shown and posted to webhooks: a reason quoting a URL keeps no secret.
        return redact_value(value)
