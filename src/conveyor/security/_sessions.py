"""Browser sessions of the web UI, opened with an API token (the ``ui_sessions`` table).

A person signs in by pasting a token; the server answers with a random session cookie and
keeps only its SHA-256 hash, the token's name, a CSRF token for the session's forms and an
expiry. Every request re-reads the token, so revoking or expiring it ends its sessions at
once. Sessions live in the metadata store so that every worker of ``conveyor server``
sees them and a restart keeps people signed in. Opening and closing a session is audited
(``ui.login``, ``ui.logout``); the cookie's value never is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from conveyor.core import Actor
from conveyor.security._records import TokenInfo
from conveyor.security._tokens import Tokens
from conveyor.store._security_models import UiSessionRow

__all__ = ["SessionInfo", "Sessions"]

#: What a session cookie looks like (anything else is not looked up).
_COOKIE = re.compile(r"[A-Za-z0-9_-]{40,64}")


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A signed-in session: who (the token) and the CSRF token of its forms."""

    token: TokenInfo
    csrf: str
    created_at: datetime
    expires_at: datetime


class Sessions:
    """Web UI sessions over the token records of ``tokens``.

    Args:
        tokens: Verifies the token a person signs in with (rate limit and audit included).
        lifetime: How long a session lasts (never longer than its token).
        clock: The current time, timezone-aware.
    """

    def __init__(
        self,
        tokens: Tokens,
        *,
        lifetime: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        store = getattr(tokens.records, "store", None)
        if store is None:
            raise TypeError("Sessions need token records in a metadata store (SqlTokenRecords).")
        self.tokens = tokens
        self.store = store
        self.lifetime = lifetime
        self._clock = clock

    def open(self, secret: object, *, client: str = "unknown") -> tuple[str, SessionInfo]:
        """Sign in with token ``secret``: the new session's cookie value and the session.

        Raises:
            InvalidTokenError: the token is missing, unknown, expired or revoked.
            TooManyAttemptsError: ``client`` failed too often recently.
        """
        token = self.tokens.verify(secret, client=client)
        now = self._clock()
        expires = now + self.lifetime
        if token.expires_at is not None:
            expires = min(expires, token.expires_at)
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        actor = Actor(name=f"token:{token.name}", kind="service")
        details = {"expires_at": expires.isoformat(), "client": client[:64]}
        with self.store.write(actor, "ui.login", f"token:{token.name}", details) as tx:
            tx.session.execute(delete(UiSessionRow).where(UiSessionRow.expires_at <= now))
            tx.session.add(
                UiSessionRow(
                    id_hash=_digest(cookie),
                    token_name=token.name,
                    csrf=csrf,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return cookie, SessionInfo(token=token, csrf=csrf, created_at=now, expires_at=expires)

    def find(self, cookie: object) -> SessionInfo | None:
        """The live session of ``cookie`` whose token is still active, else ``None``."""
        if not isinstance(cookie, str) or _COOKIE.fullmatch(cookie) is None:
            return None
        now = self._clock()
        with self.store.read() as session:
            row = session.get(UiSessionRow, _digest(cookie))
            if row is None or row.expires_at <= now:
                return None
            name, csrf, created, expires = row.token_name, row.csrf, row.created_at, row.expires_at
        token = self.tokens.records.get(name)
        if token is None or token.state(now) != "active":
            return None
        return SessionInfo(token=token, csrf=csrf, created_at=created, expires_at=expires)

    def close(self, cookie: object) -> bool:
        """Sign out: delete the session of ``cookie`` (audited); ``False`` if there was none."""
        found = self.find(cookie)
        if found is None or not isinstance(cookie, str):
            return False
        actor = Actor(name=f"token:{found.token.name}", kind="service")
        with self.store.write(actor, "ui.logout", f"token:{found.token.name}") as tx:
            tx.session.execute(delete(UiSessionRow).where(UiSessionRow.id_hash == _digest(cookie)))
        return True

    def count(self) -> int:
        """Live sessions (for tests and the overview)."""
        now = self._clock()
        with self.store.read() as session:
            rows = session.scalars(
                select(UiSessionRow.id_hash).where(UiSessionRow.expires_at > now)
            )
            return len(rows.all())


def _digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("ascii")).hexdigest()
