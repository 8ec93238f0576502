"""The security tables: API tokens (their secrets only as SHA-256 hashes).

Owned by :mod:`conveyor.security`; declared here so ``Base.metadata`` holds the whole
schema and migration ``0009`` can be checked against it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.store._models import Base


class ApiTokenRow(Base):
    """One token: its name, role, environment scope and times, and the hash of its secret."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    environments: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
