"""Prediction log: the index of logged prediction batches, and feedback labels.

Revision ID: 0004
Revises: 0003
Create Date: 2026-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create ``prediction_batches`` and ``feedback``."""
    op.create_table(
        "prediction_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(128), nullable=True),
        sa.Column("variant", sa.String(128), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prediction_batches"),
    )
    op.create_index(
        "ix_prediction_batches_model_version", "prediction_batches", ["model", "version"]
    )
    op.create_index("ix_prediction_batches_first_at", "prediction_batches", ["first_at"])
    op.create_index("ix_prediction_batches_last_at", "prediction_batches", ["last_at"])
    op.create_index("ix_prediction_batches_content_hash", "prediction_batches", ["content_hash"])

    op.create_table(
        "feedback",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_feedback"),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("feedback")
    op.drop_index("ix_prediction_batches_content_hash", table_name="prediction_batches")
    op.drop_index("ix_prediction_batches_last_at", table_name="prediction_batches")
    op.drop_index("ix_prediction_batches_first_at", table_name="prediction_batches")
    op.drop_index("ix_prediction_batches_model_version", table_name="prediction_batches")
    op.drop_table("prediction_batches")
