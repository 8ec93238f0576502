"""The ORM tables of the metadata store (typed SQLAlchemy 2 declarative models).

The schema itself is created by the Alembic migrations in ``migrations/versions``; these
classes must describe exactly what the migrations build (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: JSON for descriptive documents (schemas, profiles). Audit details use plain ``JSON`` on
#: every dialect: JSONB rewrites numbers (1e20 -> 100000000000000000000), which would
#: change what the audit hash was computed over.
JSONDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp that round-trips exactly on SQLite and PostgreSQL.

    SQLite has no time zone type and returns naive values; they are stored as naive UTC
    and given back their UTC zone on the way out. Naive inputs are rejected so a local
    time can never be stored as if it were UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"Timestamp {value!r} has no time zone; pass an aware UTC datetime.")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Deterministic constraint names: SQLite migrations rebuild tables ("batch" mode) and
#: can only drop or alter a constraint they can name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every conveyor table; ``Base.metadata`` is the full schema."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
    }


class AuditEventRow(Base):
    """One link of the append-only, hash-chained audit log (never updated or deleted)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128), index=True)
    target: Mapped[str] = mapped_column(String(512), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ArtifactRefRow(Base):
    """A record that points at an artifact; ``conveyor gc`` keeps exactly these hashes."""

    __tablename__ = "artifact_refs"
    # Migration 0017: references are removed by owner; the primary key starts with the hash.
    __table_args__ = (Index("ix_artifact_refs_owner", "owner"),)

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(512), primary_key=True)


class RequestKeyRow(Base):
    """An ``Idempotency-Key`` the control plane has applied, written in the transaction
    of the change it keyed, so a client's retry after a lost answer is not applied twice.

    ``response`` holds the JSON answer once it is known (``None`` until then)."""

    __tablename__ = "request_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime]
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class AuditCheckpointRow(Base):
    """A signed statement of the audit chain's head (``seq`` and ``hash``) at one time,
    so removing the newest events is detected by :meth:`MetadataStore.verify_audit`."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
