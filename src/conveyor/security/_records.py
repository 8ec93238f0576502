"""What the token records hold: :class:`TokenInfo` (never the secret, never its hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.security._roles import Role

__all__ = ["TokenInfo"]


@dataclass(frozen=True)
class TokenInfo:
    """A token as stored, without its secret.

    Attributes:
        name: Unique name (a safe identifier, :func:`conveyor.core.validate_name`).
        role: What it may do (:data:`~conveyor.security.ROLE_PERMISSIONS`).
        environments: The environments it may act in; empty means all.
        created_at: When it was created (UTC).
        created_by: Who created it.
        expires_at: When it stops working, or ``None`` for never.
        revoked_at: When it was revoked, or ``None``.
        last_used_at: Its last successful verification (updated at most once a minute).
    """

    name: str
    role: Role
    environments: tuple[str, ...] = ()
    created_at: datetime | None = None
    created_by: str = ""
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def state(self, now: datetime) -> str:
        """``"active"``, ``"expired"`` or ``"revoked"`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times as ISO 8601), as ``conveyor tokens list --json`` prints."""

        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "name": self.name,
            "role": str(self.role),
            "environments": list(self.environments),
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
        }
