"""Signed checkpoints of the audit chain's head.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``audit_checkpoints``."""
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_seq", "audit_checkpoints", ["seq"])


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_index("ix_audit_checkpoints_seq", table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
