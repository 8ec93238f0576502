"""Idempotency keys of the control plane.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``request_keys``."""
    op.create_table(
        "request_keys",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_request_keys"),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("request_keys")
