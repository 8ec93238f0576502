"""Automation: the agent lease, automation events (lineage) and trigger state.

Revision ID: 0008
Revises: 0007
Create Date: 2026-04-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def _big_id(name: str, *, nullable: bool) -> sa.Column[int]:
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=not nullable,
        nullable=nullable,
    )


def upgrade() -> None:
    """Create ``agent_leases``, ``automation_events`` and ``trigger_state``."""
    op.create_table(
        "agent_leases",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_agent_leases"),
    )
    op.create_table(
        "automation_events",
        _big_id("id", nullable=False),
        sa.Column("trigger", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _big_id("parent_id", nullable=True),
        sa.Column("idempotency_key", sa.String(512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_automation_events"),
        sa.UniqueConstraint("idempotency_key", name="uq_automation_events_idempotency_key"),
    )
    op.create_index("ix_automation_events_trigger", "automation_events", ["trigger"])
    op.create_index("ix_automation_events_model", "automation_events", ["model"])
    op.create_index("ix_automation_events_parent_id", "automation_events", ["parent_id"])
    op.create_table(
        "trigger_state",
        sa.Column("trigger", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("armed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("running", sa.Boolean(), nullable=False),
        _big_id("current_event_id", nullable=True),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("attempt", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("trigger", name="pk_trigger_state"),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("trigger_state")
    op.drop_index("ix_automation_events_parent_id", table_name="automation_events")
    op.drop_index("ix_automation_events_model", table_name="automation_events")
    op.drop_index("ix_automation_events_trigger", table_name="automation_events")
    op.drop_table("automation_events")
    op.drop_table("agent_leases")
