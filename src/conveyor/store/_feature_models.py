"""The feature store's tables: versioned definitions, offline tables and materializations.

Owned by :mod:`conveyor.features`; declared here so ``Base.metadata`` holds the whole schema
and migration ``0015`` can be checked against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.store._models import Base


class FeatureDefinitionRow(Base):
    """One version of an entity, feature view or feature service definition."""

    __tablename__ = "feature_definitions"
    __table_args__ = (
        UniqueConstraint("kind", "name", "version", name="uq_feature_definitions_version"),
        Index("ix_feature_definitions_kind_name", "kind", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    definition_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class FeatureTableRow(Base):
    """A feature view's offline table computed from one dataset version (a Parquet artifact)."""

    __tablename__ = "feature_tables"
    __table_args__ = (
        UniqueConstraint(
            "view", "view_version", "dataset", "dataset_version", name="uq_feature_tables_source"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    view: Mapped[str] = mapped_column(String(128))
    view_version: Mapped[int] = mapped_column(Integer)
    dataset: Mapped[str] = mapped_column(String(128))
    dataset_version: Mapped[int] = mapped_column(BigInteger)
    artifact_hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    min_ts: Mapped[datetime | None]
    max_ts: Mapped[datetime | None]
    created_at: Mapped[datetime]


class FeatureMaterializationRow(Base):
    """One materialization of a view into an online store: started, then committed."""

    __tablename__ = "feature_materializations"
    __table_args__ = (Index("ix_feature_materializations_view_store", "view", "store_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    view: Mapped[str] = mapped_column(String(128))
    view_version: Mapped[int] = mapped_column(Integer)
    dataset_version: Mapped[int] = mapped_column(BigInteger)
    store_id: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    start_ts: Mapped[datetime | None]
    end_ts: Mapped[datetime]
    watermark: Mapped[datetime | None]
    rows: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(128))
