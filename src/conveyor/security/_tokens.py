"""Creating, verifying and revoking tokens: the rules, written once over any records.

A secret is ``cvy_`` followed by 32 random bytes in URL-safe base64 (43 characters). It
is shown once, when created, and stored only as its SHA-256 hash: the secret has 256 bits
of entropy, so a fast hash is enough and lets a check be one indexed lookup of the hash
(no comparison of secrets in a loop, nothing to time). Every way a check can fail
(missing, malformed, unknown, expired, revoked) raises the same
:class:`InvalidTokenError` message; failures are counted per client and over the limit
refused with :class:`TooManyAttemptsError`, and each counted failure is audited as
``token.rejected`` with the client address and the reason, never the presented text.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from conveyor.core import Actor, validate_name
from conveyor.errors import ConveyorError
from conveyor.security._base import BaseTokenRecords
from conveyor.security._errors import InvalidTokenError, SecurityError
from conveyor.security._limit import FailureLimiter
from conveyor.security._records import TokenInfo
from conveyor.security._roles import Role, parse_role

__all__ = ["PREFIX", "Tokens", "hash_secret"]

#: What every secret starts with (so scanners and people recognise one).
PREFIX = "cvy_"
_SECRET = re.compile(r"cvy_[A-Za-z0-9_-]{43}")
#: ``last_used_at`` is written at most this often per token (a write per request is waste).
_TOUCH_EVERY = timedelta(minutes=1)
_SERVER = Actor("conveyor-server", kind="service")


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest the records keep of ``secret``."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _invalid() -> InvalidTokenError:
    return InvalidTokenError(
        "The token is not valid.",
        hint="Send `Authorization: Bearer <token>` with an active token; "
        "`conveyor tokens list` shows which tokens exist.",
    )


class Tokens:
    """Tokens over a :class:`BaseTokenRecords`.

    Args:
        records: Where tokens are kept (e.g. :class:`~conveyor.security.SqlTokenRecords`).
        limiter: Counts failed checks per client (a new :class:`FailureLimiter` if omitted).
        actor: Who audits rejected checks (a service actor of the server by default).
        clock: The current time, timezone-aware (tests pass a fake).

    Example:
        >>> tokens = Tokens(SqlTokenRecords(ws.store))  # doctest: +SKIP
        >>> secret, info = tokens.create("ci", "developer", actor=ws.actor)  # doctest: +SKIP
        >>> tokens.verify(secret).name  # doctest: +SKIP
        'ci'
    """

    def __init__(
        self,
        records: BaseTokenRecords,
        *,
        limiter: FailureLimiter | None = None,
        actor: Actor = _SERVER,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.records = records
        self.limiter = limiter if limiter is not None else FailureLimiter()
        self.actor = actor
        self._clock = clock

    def create(
        self,
        name: str,
        role: Role | str,
        *,
        environments: Iterable[str] = (),
        expires: timedelta | None = None,
        actor: Actor,
    ) -> tuple[str, TokenInfo]:
        """Create token ``name``; audited ``token.create`` (without secret or hash).

        Args:
            name: Unique name of the token.
            role: Its role.
            environments: The environments it may act in (empty: all).
            expires: Lifetime from now; ``None`` never expires.
            actor: Who creates it.

        Returns:
            The secret (shown this once, never stored) and the token as stored.

        Raises:
            InvalidNameError: ``name`` or an environment is not a safe name.
            UnknownRoleError: ``role`` names no role.
            TokenExistsError: the name is taken.
            SecurityError: ``expires`` is not positive.
        """
        validate_name(name, kind="token name")
        scope = tuple(
            dict.fromkeys(validate_name(e, kind="environment name") for e in environments)
        )
        if expires is not None and expires <= timedelta(0):
            raise SecurityError(
                f"A token's lifetime must be positive, got {expires}.",
                hint="Pass --expires such as 90d, or leave it out for no expiry.",
                expires=str(expires),
            )
        now = self._clock()
        try:
            expires_at = None if expires is None else now + expires
        except OverflowError as exc:
            raise SecurityError(
                f"A token lifetime of {expires} is too long.",
                hint="Pass --expires of at most a few years, or leave it out.",
            ) from exc
        secret = PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(
            name=name,
            role=parse_role(role),
            environments=scope,
            created_at=now,
            created_by=actor.name,
            expires_at=expires_at,
        )
        return secret, self.records.add(actor, info, hash_secret(secret))

    def verify(self, secret: object, *, client: str = "unknown") -> TokenInfo:
        """The active token whose secret is ``secret``.

        Args:
            secret: What the caller presented (any type; ``None`` when nothing was sent).
            client: Who presented it (the client address), for the rate limit and audit.

        Raises:
            TooManyAttemptsError: ``client`` failed too often recently (checked first).
            InvalidTokenError: missing, malformed, unknown, expired or revoked (one message).
        """
        self.limiter.check(client)
        token: TokenInfo | None = None
        reason = "missing" if secret is None or secret == "" else "malformed"
        if isinstance(secret, str) and _SECRET.fullmatch(secret):
            digest = hash_secret(secret)
            token = self.records.find(digest)
            reason = "unknown" if token is None else token.state(self._clock())
        if token is None or reason != "active":
            self._reject(client, reason, token)
            raise _invalid()
        now = self._clock()
        if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
            with contextlib.suppress(ConveyorError):  # a busy store must not refuse a token
                self.records.touch(token.name, now)
        return token

    def revoke(self, name: str, *, actor: Actor) -> TokenInfo:
        """Revoke token ``name`` now (audited ``token.revoke``; again is a no-op).

        Raises:
            TokenNotFoundError: no token has this name.
        """
        return self.records.revoke(actor, name, self._clock())

    def list(self) -> list[TokenInfo]:
        """Every token, by name (never a secret)."""
        return self.records.list()

    def _reject(self, client: str, reason: str, token: TokenInfo | None) -> None:
        if reason == "missing":  # a request without a token is not a guess
            return
        self.limiter.failed(client)
        details = {"client": client[:128], "reason": reason}
        target = "token:" + (token.name if token is not None else "?")
        with contextlib.suppress(ConveyorError):  # auditing must not turn a 401 into a 500
            self.records.record(self.actor, "token.rejected", target, details)
