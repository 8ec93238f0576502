"""The feature store: versioned definitions, offline tables and materializations.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``feature_definitions``, ``feature_tables`` and ``feature_materializations``."""
    op.create_table(
        "feature_definitions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_definitions"),
        sa.UniqueConstraint("kind", "name", "version", name="uq_feature_definitions_version"),
    )
    op.create_index("ix_feature_definitions_kind_name", "feature_definitions", ["kind", "name"])
    op.create_table(
        "feature_tables",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("view", sa.String(128), nullable=False),
        sa.Column("view_version", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("dataset_version", sa.BigInteger(), nullable=False),
        sa.Column("artifact_hash", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("min_ts", _TS, nullable=True),
        sa.Column("max_ts", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_tables"),
        sa.UniqueConstraint(
            "view", "view_version", "dataset", "dataset_version", name="uq_feature_tables_source"
        ),
    )
    op.create_table(
        "feature_materializations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("view", sa.String(128), nullable=False),
        sa.Column("view_version", sa.Integer(), nullable=False),
        sa.Column("dataset_version", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_ts", _TS, nullable=True),
        sa.Column("end_ts", _TS, nullable=False),
        sa.Column("watermark", _TS, nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feature_materializations"),
    )
    op.create_index(
        "ix_feature_materializations_view_store",
        "feature_materializations",
        ["view", "store_id"],
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_index("ix_feature_materializations_view_store", table_name="feature_materializations")
    op.drop_table("feature_materializations")
    op.drop_table("feature_tables")
    op.drop_index("ix_feature_definitions_kind_name", table_name="feature_definitions")
    op.drop_table("feature_definitions")
