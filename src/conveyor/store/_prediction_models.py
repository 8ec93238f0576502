"""The prediction-log tables: an index of logged prediction batches, and feedback labels.

Owned by :mod:`conveyor.predictions`; declared here so ``Base.metadata`` holds the whole
schema and migration ``0004`` can be checked against it. The predictions themselves live in
Parquet objects in the artifact store; :class:`PredictionBatchRow` indexes each one by model
version, deployment coordinates and time span so a window is read without opening the others.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.store._models import Base


class PredictionBatchRow(Base):
    """One Parquet object of logged predictions, all of one model version and variant."""

    __tablename__ = "prediction_batches"
    __table_args__ = (
        Index("ix_prediction_batches_model_version", "model", "version"),
        Index("ix_prediction_batches_first_at", "first_at"),
        Index("ix_prediction_batches_last_at", "last_at"),
        Index("ix_prediction_batches_content_hash", "content_hash"),
        # Migration 0017: one model's window by time.
        Index("ix_prediction_batches_model_last_at", "model", "last_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    environment: Mapped[str | None] = mapped_column(String(128))
    variant: Mapped[str | None] = mapped_column(String(128))
    revision: Mapped[int | None] = mapped_column(Integer)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    rows: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class FeedbackRow(Base):
    """The ground-truth label of one request; a later label replaces an earlier one."""

    __tablename__ = "feedback"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Plain JSON on every dialect: a label is returned exactly as it was given.
    label: Mapped[Any] = mapped_column(JSON)
    at: Mapped[datetime]
    updates: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime]


class ServingUsageRow(Base):
    """What one prediction server process used while serving one model version.

    Written by the server every few seconds and at shutdown (migration ``0016``); the
    numbers are totals since the process started, so each write replaces the last.
    """

    __tablename__ = "serving_usage"
    __table_args__ = (
        Index("ix_serving_usage_model_version", "model", "version"),
        Index("ix_serving_usage_updated_at", "updated_at"),
        UniqueConstraint("process_id", "model", "version"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    process_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    environment: Mapped[str | None] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(256))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    wall_s: Mapped[float] = mapped_column(Float)
    busy_s: Mapped[float] = mapped_column(Float)
    cpu_s: Mapped[float] = mapped_column(Float)
    peak_rss_mb: Mapped[float] = mapped_column(Float)
    predictions: Mapped[int] = mapped_column(BigInteger)
    requests: Mapped[int] = mapped_column(BigInteger)
