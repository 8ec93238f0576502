"""The write transaction handle and the idempotency key of the request being served."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from conveyor.core import Actor
from conveyor.store._audit import AuditEvent
from conveyor.store._models import ArtifactRefRow


class RequestKey:
    """The idempotency key of the request being served, and whether it is written yet."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.recorded = False


#: The request key of the ``MetadataStore.keyed`` block being run, if any.
REQUEST_KEY: contextvars.ContextVar[RequestKey | None] = contextvars.ContextVar(
    "conveyor_request_key", default=None
)


class WriteTx:
    """The handle a :meth:`MetadataStore.write` body works with.

    Attributes:
        session: The ORM session, inside one write transaction holding the writer lock.
        actor: Who makes the change (``Actor.name`` is recorded).
        action: What the change is, e.g. ``"dataset.add"``.
        target: What it applies to; the body may refine it (``"dataset:orders@3"``).
        details: JSON details for the audit event; the body may add to them.
        event: The audit event written, set once the transaction has committed.
        committing: True once the body and the audit event are done and the commit is
            under way (a connection lost then may or may not have committed).
    """

    def __init__(
        self, session: Session, actor: Actor, action: str, target: str, details: dict[str, Any]
    ) -> None:
        self.session = session
        self.actor = actor
        self.action = action
        self.target = target
        self.details = details
        self.event: AuditEvent | None = None
        self.committing = False

    def unreference(self, owners: Iterable[str]) -> None:
        """Drop every artifact reference the ``owners`` hold (their objects become
        collectable by ``conveyor gc`` unless another record references them)."""
        names = list(owners)
        if names:
            self.session.execute(delete(ArtifactRefRow).where(ArtifactRefRow.owner.in_(names)))

    def reference(self, owner: str, hashes: Iterable[str], *, existing_ok: bool = False) -> None:
        """Record that ``owner`` (``"run:ID"``, ``"model:NAME@V"``) points at artifacts.

        ``conveyor gc`` keeps exactly the referenced hashes; recording the references in
        the same transaction as the record that needs them means no gc can run between.

        Args:
            owner: The record that holds the artifacts.
            hashes: Content hashes it points at.
            existing_ok: A reference already recorded is kept (one lookup per hash);
                otherwise a duplicate fails the transaction, which is cheaper for new
                owners with many objects.
        """
        if existing_ok:
            for digest in hashes:
                self.session.merge(ArtifactRefRow(hash=digest, owner=owner))
            return
        rows = [{"hash": digest, "owner": owner} for digest in dict.fromkeys(hashes)]
        if rows:  # one executemany: a dataset of 10,000 objects is one statement
            self.session.execute(insert(ArtifactRefRow), rows)
