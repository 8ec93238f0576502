"""The security tables: API tokens (their secrets only as SHA-256 hashes) and the web
UI's sessions (their cookies only as SHA-256 hashes).

Owned by :mod:`conveyor.security`; declared here so ``Base.metadata`` holds the whole
schema and migrations ``0009`` and ``0013`` can be checked against it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String
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


class UiSessionRow(Base):
    """One signed-in browser session of the web UI: the hash of its cookie, the token it
    was opened with, its CSRF token and its lifetime."""

    __tablename__ = "ui_sessions"
    __table_args__ = (
        Index("ix_ui_sessions_token_name", "token_name"),
        Index("ix_ui_sessions_expires_at", "expires_at"),
    )

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_name: Mapped[str] = mapped_column(String(128))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
