"""The token records in the metadata store (SQLite or PostgreSQL): the ``api_tokens`` table.

Creating and revoking run in one audited write transaction each; looking a token up by
the hash of its secret is an indexed read (the hash column is unique); ``last_used_at`` is
a single ``UPDATE`` outside the audit chain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from conveyor.core import Actor, utcnow, validate_name
from conveyor.security._base import BaseTokenRecords
from conveyor.security._errors import SecurityError, TokenExistsError, TokenNotFoundError
from conveyor.security._records import TokenInfo
from conveyor.security._roles import Role
from conveyor.store import MetadataStore
from conveyor.store._security_models import ApiTokenRow

__all__ = ["SqlTokenRecords"]

_HASH = re.compile(r"[0-9a-f]{64}")


class SqlTokenRecords(BaseTokenRecords):
    """Token records in the ``api_tokens`` table.

    Args:
        store: The metadata store.

    Example:
        >>> records = SqlTokenRecords(ws.store)  # doctest: +SKIP
        >>> [token.name for token in records.list()]  # doctest: +SKIP
        ['ci', 'dashboard']
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def add(self, actor: Actor, token: TokenInfo, secret_hash: str) -> TokenInfo:
        """Insert the row in an audited transaction, unless the name is taken."""
        validate_name(token.name, kind="token name")
        if not _HASH.fullmatch(secret_hash):
            raise SecurityError(
                f"The secret hash of token {token.name!r} is not 64 lowercase hex digits.",
                hint="Store hash_secret(secret), never the secret itself.",
                token=token.name,
            )
        created_at = token.created_at or utcnow()
        expires = None if token.expires_at is None else token.expires_at.isoformat()
        details = {
            "role": str(token.role),
            "environments": list(token.environments),
            "expires_at": expires,
        }
        with self.store.write(actor, "token.create", f"token:{token.name}", details) as tx:
            if tx.session.get(ApiTokenRow, token.name) is not None:
                raise _exists(token.name)
            row = ApiTokenRow(
                name=token.name,
                secret_hash=secret_hash,
                role=str(token.role),
                environments=list(token.environments),
                created_at=created_at,
                created_by=token.created_by,
                expires_at=token.expires_at,
                revoked_at=None,
                last_used_at=None,
            )
            tx.session.add(row)
            tx.session.flush()
            stored = _info(row)
        return stored

    def find(self, secret_hash: str) -> TokenInfo | None:
        """The row whose ``secret_hash`` is ``secret_hash``."""
        with self.store.read() as session:
            row = session.scalars(
                select(ApiTokenRow).where(ApiTokenRow.secret_hash == secret_hash)
            ).first()
            return None if row is None else _info(row)

    def get(self, name: str) -> TokenInfo | None:
        """The row ``name``."""
        with self.store.read() as session:
            row = session.get(ApiTokenRow, name)
            return None if row is None else _info(row)

    def list(self) -> list[TokenInfo]:
        """Every row, by name."""
        with self.store.read() as session:
            rows = session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))
            return [_info(row) for row in rows]

    def revoke(self, actor: Actor, name: str, at: datetime) -> TokenInfo:
        """Set ``revoked_at`` in an audited transaction (once)."""
        current = self.get(name)
        if current is None:
            raise _missing(name)
        if current.revoked_at is not None:
            return current
        with self.store.write(actor, "token.revoke", f"token:{name}") as tx:
            row = tx.session.get(ApiTokenRow, name)
            if row is None:
                raise _missing(name)
            if row.revoked_at is None:
                row.revoked_at = at
            tx.details["role"] = row.role
            tx.session.flush()
            stored = _info(row)
        return stored

    def touch(self, name: str, at: datetime) -> None:
        """One ``UPDATE`` of ``last_used_at``, outside the audit chain."""
        with Session(self.store.engine) as session, session.begin():
            session.execute(
                update(ApiTokenRow).where(ApiTokenRow.name == name).values(last_used_at=at)
            )

    def record(self, actor: Actor, action: str, target: str, details: Mapping[str, Any]) -> None:
        """:meth:`MetadataStore.record_event`."""
        self.store.record_event(actor, action, target, details)


def _info(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        role=Role(row.role),
        environments=tuple(row.environments),
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _exists(name: str) -> TokenExistsError:
    return TokenExistsError(
        f"A token named {name!r} exists already.",
        hint="Pick another name; `conveyor tokens list` shows the taken ones.",
        name=name,
    )


def _missing(name: str) -> TokenNotFoundError:
    return TokenNotFoundError(
        f"No token is named {name!r}.",
        hint="`conveyor tokens list` shows the tokens.",
        name=name,
    )
