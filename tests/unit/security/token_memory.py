"""Token records kept in memory: the fake of :class:`BaseTokenRecords` for tests.

It shows what a backend other than SQL must do and runs the shipped contract suite
(``test_token_memory_records.py``); audit events go to a list of
``(actor, action, target, details)``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from conveyor.core import Actor
from conveyor.security import BaseTokenRecords, TokenExistsError, TokenInfo, TokenNotFoundError


class MemoryTokenRecords(BaseTokenRecords):
    """Tokens in a dict by name, hashes in another; one lock serialises every change."""

    def __init__(self) -> None:
        self.tokens: dict[str, TokenInfo] = {}
        self.hashes: dict[str, str] = {}
        self.audit: list[tuple[str, str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def add(self, actor: Actor, token: TokenInfo, secret_hash: str) -> TokenInfo:
        with self._lock:
            if token.name in self.tokens:
                raise TokenExistsError(f"A token named {token.name!r} exists already.")
            self.tokens[token.name] = token
            self.hashes[secret_hash] = token.name
            expires = None if token.expires_at is None else token.expires_at.isoformat()
            details = {
                "role": str(token.role),
                "environments": list(token.environments),
                "expires_at": expires,
            }
            self.audit.append((actor.name, "token.create", f"token:{token.name}", details))
            return token

    def find(self, secret_hash: str) -> TokenInfo | None:
        name = self.hashes.get(secret_hash)
        return None if name is None else self.tokens[name]

    def get(self, name: str) -> TokenInfo | None:
        return self.tokens.get(name)

    def list(self) -> list[TokenInfo]:
        return [self.tokens[name] for name in sorted(self.tokens)]

    def revoke(self, actor: Actor, name: str, at: datetime) -> TokenInfo:
        with self._lock:
            if name not in self.tokens:
                raise TokenNotFoundError(f"No token is named {name!r}.")
            current = self.tokens[name]
            if current.revoked_at is None:
                current = self.tokens[name] = replace(current, revoked_at=at)
                details = {"role": str(current.role)}
                self.audit.append((actor.name, "token.revoke", f"token:{name}", details))
            return current

    def touch(self, name: str, at: datetime) -> None:
        with self._lock:
            if name in self.tokens:
                self.tokens[name] = replace(self.tokens[name], last_used_at=at)

    def record(self, actor: Actor, action: str, target: str, details: Mapping[str, Any]) -> None:
        with self._lock:
            self.audit.append((actor.name, action, target, dict(details)))
