"""Resource use for cost: peak memory of runs, and the prediction servers' usage records.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add ``runs.peak_rss_mb`` and create ``serving_usage``."""
    op.add_column("runs", sa.Column("peak_rss_mb", sa.Float(), nullable=True))
    op.create_table(
        "serving_usage",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("process_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(128), nullable=True),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("wall_s", sa.Float(), nullable=False),
        sa.Column("busy_s", sa.Float(), nullable=False),
        sa.Column("cpu_s", sa.Float(), nullable=False),
        sa.Column("peak_rss_mb", sa.Float(), nullable=False),
        sa.Column("predictions", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_serving_usage"),
        sa.UniqueConstraint(
            "process_id", "model", "version", name="uq_serving_usage_process_id_model_version"
        ),
    )
    op.create_index("ix_serving_usage_model_version", "serving_usage", ["model", "version"])
    op.create_index("ix_serving_usage_updated_at", "serving_usage", ["updated_at"])


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_index("ix_serving_usage_updated_at", table_name="serving_usage")
    op.drop_index("ix_serving_usage_model_version", table_name="serving_usage")
    op.drop_table("serving_usage")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("peak_rss_mb")
