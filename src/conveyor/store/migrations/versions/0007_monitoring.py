"""Monitoring: stored monitoring reports and alert incidents.

Revision ID: 0007
Revises: 0006
Create Date: 2026-04-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def _id_column() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def upgrade() -> None:
    """Create ``monitoring_reports`` and ``alerts``."""
    op.create_table(
        "monitoring_reports",
        _id_column(),
        sa.Column("environment", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("labelled_rows", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("drift", sa.JSON(), nullable=False),
        sa.Column("performance", sa.JSON(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_monitoring_reports"),
    )
    op.create_index(
        "ix_monitoring_reports_environment_created_at",
        "monitoring_reports",
        ["environment", "created_at"],
    )
    op.create_index(
        "ix_monitoring_reports_model_version", "monitoring_reports", ["model", "version"]
    )

    op.create_table(
        "alerts",
        _id_column(),
        sa.Column("incident_key", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_incident_key_open", "alerts", ["incident_key", "open"])


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_index("ix_alerts_incident_key_open", table_name="alerts")
    op.drop_table("alerts")
    op.drop_index("ix_monitoring_reports_model_version", table_name="monitoring_reports")
    op.drop_index("ix_monitoring_reports_environment_created_at", table_name="monitoring_reports")
    op.drop_table("monitoring_reports")
