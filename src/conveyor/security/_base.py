"""The interface of the token records: stored tokens, found by the hash of their secret.

:class:`~conveyor.security.Tokens` holds the rules (secret format, expiry, the rate
limit, what is audited); a backend keeps what it is given.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from conveyor.core import Actor
from conveyor.security._records import TokenInfo

__all__ = ["BaseTokenRecords"]


class BaseTokenRecords(abc.ABC):
    """Where tokens are kept: name, role, scope, times and the SHA-256 hash of the secret.

    The secret itself is never given to a backend; the hash is never returned by one (a
    :class:`TokenInfo` has no field for it). Times come back timezone-aware, in UTC.
    Audit events written by a backend never carry the hash in their details.

    Thread safety: an implementation may be shared by threads and processes; writers are
    serialised, so two tokens never get the same name.
    """

    @abc.abstractmethod
    def add(self, actor: Actor, token: TokenInfo, secret_hash: str) -> TokenInfo:
        """Store a new token, with one audit event ``token.create`` on ``token:<name>``.

        The event's details are ``role``, ``environments`` and ``expires_at`` (ISO 8601
        or ``None``); never the hash.

        Returns:
            The token as stored.

        Raises:
            TokenExistsError: a token (active, expired or revoked) has this name already;
                nothing is written.
        """

    @abc.abstractmethod
    def find(self, secret_hash: str) -> TokenInfo | None:
        """The token whose secret hashes to ``secret_hash``, revoked or expired too."""

    @abc.abstractmethod
    def get(self, name: str) -> TokenInfo | None:
        """The token named ``name``, or ``None``."""

    @abc.abstractmethod
    def list(self) -> list[TokenInfo]:
        """Every token (revoked and expired ones too), by name."""

    @abc.abstractmethod
    def revoke(self, actor: Actor, name: str, at: datetime) -> TokenInfo:
        """Set the revocation time of token ``name`` to ``at``, audited ``token.revoke``.

        Revoking a revoked token keeps its first revocation time and writes no event.

        Returns:
            The token as stored afterwards.

        Raises:
            TokenNotFoundError: no token has this name.
        """

    @abc.abstractmethod
    def touch(self, name: str, at: datetime) -> None:
        """Set ``last_used_at`` of token ``name`` to ``at`` (not audited; a heartbeat)."""

    @abc.abstractmethod
    def record(self, actor: Actor, action: str, target: str, details: Mapping[str, Any]) -> None:
        """Append one audit event with no other change (``token.rejected``)."""
