"""The data-versioning tables: datasets and their immutable versions.

Owned by :mod:`conveyor.data`, whose SQL records (``conveyor.data._sql``) are the only
module that may import them (an import-linter contract); declared here so ``Base.metadata``
holds the whole schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from conveyor.store._models import Base


class DatasetRow(Base):
    """A named dataset; its content lives in :class:`DatasetVersionRow` records."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))

    versions: Mapped[list[DatasetVersionRow]] = relationship(
        back_populates="dataset", order_by="DatasetVersionRow.version"
    )


class DatasetVersionRow(Base):
    """One immutable version of a dataset (a table, a file or a folder)."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version"),
        Index("ix_dataset_versions_dataset_id_content_hash", "dataset_id", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column(Integer)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    schema: Mapped[dict[str, Any] | None]
    profile: Mapped[dict[str, Any] | None]
    parent_version: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))

    dataset: Mapped[DatasetRow] = relationship(back_populates="versions")
