"""The experiment-tracking tables: runs and what they log (metrics, datasets, outputs, files).

Owned by :mod:`conveyor.tracking`; declared here so ``Base.metadata`` holds the whole schema
and migration ``0002`` can be checked against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.store._models import Base


class RunRow(Base):
    """One run: a pipeline, a step of one, a tuning study or a trial."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_parent_id", "parent_id"),
        Index("ix_runs_cache_key", "cache_key"),
        Index("ix_runs_started_at", "started_at"),
        # Migration 0017: the newest top-level runs (parent_id IS NULL) in index order.
        Index("ix_runs_parent_id_started_at", "parent_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    status: Mapped[str] = mapped_column(String(16))
    pipeline_ref: Mapped[str | None] = mapped_column(String(512))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    code_version: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    executor: Mapped[str | None] = mapped_column(String(64))
    cache_key: Mapped[str | None] = mapped_column(String(64))
    cached_from: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    host: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(Integer)
    wall_s: Mapped[float | None] = mapped_column(Float)
    cpu_s: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(128))
    # Added by migration 0016: the high-water mark of the measuring process's memory.
    peak_rss_mb: Mapped[float | None] = mapped_column(Float)


class RunMetricRow(Base):
    """One logged metric value (NaN and infinities are kept as given)."""

    __tablename__ = "run_metrics"
    __table_args__ = (Index("ix_run_metrics_run_id_key", "run_id", "key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(256))
    # NULL means NaN: SQLite cannot store NaN (it turns it into NULL), PostgreSQL can.
    value: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime]


class RunDatasetRow(Base):
    """A dataset version a run used."""

    __tablename__ = "run_datasets"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))


class RunOutputRow(Base):
    """One saved output of a step run (the artifact plus how to load it)."""

    __tablename__ = "run_outputs"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    materializer: Mapped[str] = mapped_column(String(128))
    materializer_version: Mapped[int] = mapped_column(Integer)
    type_name: Mapped[str] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(BigInteger)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)


class RunArtifactRow(Base):
    """A file logged by a run with ``log_artifact``."""

    __tablename__ = "run_artifacts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(128))
