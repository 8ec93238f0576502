"""Indexes for a long history: listing top-level runs, a model's prediction window by time,
and removing the artifact references of one owner.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

#: (index, table, columns), created in this order and dropped in the reverse one.
_INDEXES = (
    # `runs list`: the newest top-level runs (parent_id IS NULL) without a sort of them all,
    # and a run's children in start order.
    ("ix_runs_parent_id_started_at", "runs", ["parent_id", "started_at"]),
    # A monitoring window: one model's batches by time, newest first.
    ("ix_prediction_batches_model_last_at", "prediction_batches", ["model", "last_at"]),
    # Expiring or erasing predictions (run by `conveyor gc` with a retention) removes the
    # references of the batches it drops, by owner; the primary key starts with the hash.
    ("ix_artifact_refs_owner", "artifact_refs", ["owner"]),
)


def upgrade() -> None:
    """Create the indexes."""
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop the indexes."""
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
