"""The check tables: check results, gate decisions and versioned data schemas.

Owned by :mod:`conveyor.checks`; declared here so ``Base.metadata`` holds the whole schema
and migration ``0005`` can be checked against it. Documents use plain ``JSON`` (not JSONB) so
measured values and thresholds come back exactly as they were written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.store._models import Base


class CheckResultRow(Base):
    """The outcome of one check against one subject (dataset version, run or model version)."""

    __tablename__ = "check_results"
    __table_args__ = (
        Index("ix_check_results_subject_kind_subject_ref", "subject_kind", "subject_ref"),
        Index("ix_check_results_suite_id", "suite_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_ref: Mapped[str] = mapped_column(String(256))
    check: Mapped[str] = mapped_column(String(128))
    passed: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    threshold: Mapped[Any] = mapped_column(JSON, nullable=True)
    explanation: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    suite_id: Mapped[str] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))


class GateDecisionRow(Base):
    """One recorded gate decision (PROMOTE, HOLD or REJECT) with every reason."""

    __tablename__ = "gate_decisions"
    __table_args__ = (
        Index("ix_gate_decisions_subject_kind_subject_ref", "subject_kind", "subject_ref"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_ref: Mapped[str] = mapped_column(String(256))
    decision: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    champion_ref: Mapped[str | None] = mapped_column(String(256))
    suite_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))


class DataSchemaRow(Base):
    """One version of the inferred (pandera) schema of a dataset; versions are contiguous."""

    __tablename__ = "data_schemas"
    __table_args__ = (UniqueConstraint("dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    from_dataset_version: Mapped[int] = mapped_column(Integer)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
