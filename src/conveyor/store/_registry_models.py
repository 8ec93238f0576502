"""The model-registry tables: models, their versions, aliases, alias history and signatures.

Owned by :mod:`conveyor.registry`; declared here so ``Base.metadata`` holds the whole schema
and migrations ``0003`` and ``0010`` can be checked against it. Documents use plain ``JSON``
(not JSONB) so metric values and signatures come back exactly as they were written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.store._models import Base


class ModelRow(Base):
    """A named model; its content lives in :class:`ModelVersionRow` records."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class ModelVersionRow(Base):
    """One immutable registered version of a model (its files are behind ``content_hash``)."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        Index("ix_model_versions_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    flavor: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    input_example: Mapped[Any] = mapped_column(JSON, nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    lineage: Mapped[dict[str, Any]] = mapped_column(JSON)
    onnx: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    importance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trusted: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class ModelAliasRow(Base):
    """Where an alias of a model points now (its past lives in :class:`ModelAliasEventRow`)."""

    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ModelAliasEventRow(Base):
    """One alias change (set, moved or removed); append-only."""

    __tablename__ = "model_alias_events"
    __table_args__ = (Index("ix_model_alias_events_model_id", "model_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    alias: Mapped[str] = mapped_column(String(128))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)


class ModelSignatureRow(Base):
    """One signature of a model version (ed25519 over its statement); append-only."""

    __tablename__ = "model_signatures"
    __table_args__ = (Index("ix_model_signatures_version_id", "version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    key_name: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    statement_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
