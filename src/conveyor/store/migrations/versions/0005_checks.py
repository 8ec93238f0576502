"""Checks: check results, gate decisions and versioned data schemas.

Revision ID: 0005
Revises: 0004
Create Date: 2026-03-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
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
    """Create ``check_results``, ``gate_decisions`` and ``data_schemas``."""
    op.create_table(
        "check_results",
        _id_column(),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_ref", sa.String(256), nullable=False),
        sa.Column("check", sa.String(128), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("threshold", sa.JSON(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("suite_id", sa.String(64), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_check_results"),
    )
    op.create_index(
        "ix_check_results_subject_kind_subject_ref",
        "check_results",
        ["subject_kind", "subject_ref"],
    )
    op.create_index("ix_check_results_suite_id", "check_results", ["suite_id"])

    op.create_table(
        "gate_decisions",
        _id_column(),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_ref", sa.String(256), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("champion_ref", sa.String(256), nullable=True),
        sa.Column("suite_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gate_decisions"),
    )
    op.create_index(
        "ix_gate_decisions_subject_kind_subject_ref",
        "gate_decisions",
        ["subject_kind", "subject_ref"],
    )

    op.create_table(
        "data_schemas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_dataset_version", sa.Integer(), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_schemas"),
        sa.UniqueConstraint("dataset", "version", name="uq_data_schemas_dataset_version"),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("data_schemas")
    op.drop_index("ix_gate_decisions_subject_kind_subject_ref", table_name="gate_decisions")
    op.drop_table("gate_decisions")
    op.drop_index("ix_check_results_suite_id", table_name="check_results")
    op.drop_index("ix_check_results_subject_kind_subject_ref", table_name="check_results")
    op.drop_table("check_results")
