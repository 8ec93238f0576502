"""The audit trail behind an interface: append events that change nothing, read, verify.

Every audited change of a records package appends its event itself, in the same step as
the change. What is left for everyone else is the trail on its own: an event that records
something that happened without changing any record (an integrity failure, a key
rotation), the log, and its verification. :class:`BaseAuditRecords` is that interface, so
a workspace whose records live elsewhere (a team server) can offer it too;
:class:`SqlAuditRecords` is the metadata store's.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from conveyor.core import Actor
from conveyor.store._audit import AuditEvent, AuditVerification
from conveyor.store._store import MetadataStore

__all__ = ["BaseAuditRecords", "SqlAuditRecords"]


class BaseAuditRecords(abc.ABC):
    """The hash-chained audit trail of a set of records.

    The contract: events are totally ordered by ``seq``; :meth:`record_event` appends one
    event atomically (it is in the log, chained to its predecessor, once it returns);
    reads return events oldest first. Implementations are safe to share between threads.
    Failures are :class:`~conveyor.errors.StoreError` subclasses (busy, disconnected,
    full, read-only), as for any write of the records.

    Example:
        >>> audit = SqlAuditRecords(store)  # doctest: +SKIP
        >>> audit.record_event(Actor("alice"), "keys.rotate", "artifacts:s3://b").action
        'keys.rotate'
    """

    @abc.abstractmethod
    def record_event(
        self,
        actor: Actor,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event recording something that happened, with no other change.

        Args:
            actor: Who it is attributed to.
            action: What happened, e.g. ``"model.integrity_failed"``.
            target: What it happened to, e.g. ``"model:churn@3"``.
            details: JSON-serialisable context, hashed into the chain.

        Returns:
            The event appended.

        Raises:
            StoreBusyError, StoreDisconnectedError, StoreFullError, StoreReadOnlyError:
                the event could not be appended.
        """

    @abc.abstractmethod
    def audit_log(
        self,
        *,
        limit: int | None = None,
        action: str | None = None,
        target_prefix: str | None = None,
        by_actor: str | None = None,
        before_seq: int | None = None,
    ) -> list[AuditEvent]:
        """Audit events, oldest first.

        Args:
            limit: Keep only the newest ``limit`` matching events (still oldest first).
            action: Only events with exactly this action.
            target_prefix: Only events whose target starts with this text (literally: no
                wildcards).
            by_actor: Only events of this actor (``Actor.name``).
            before_seq: Only events older than this position (to page back in time).
        """

    @abc.abstractmethod
    def verify_audit(self) -> AuditVerification:
        """Recompute every hash and link of the chain; name the first broken event, if any."""


class SqlAuditRecords(BaseAuditRecords):
    """The audit trail of a :class:`~conveyor.store.MetadataStore` (SQLite or PostgreSQL).

    Args:
        store: The metadata store whose ``audit_events`` table holds the trail.

    Example:
        >>> SqlAuditRecords(ws.store).verify_audit().ok  # doctest: +SKIP
        True
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"SqlAuditRecords({self.store.url!r})"

    def record_event(
        self,
        actor: Actor,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        return self.store.record_event(actor, action, target, details)

    def audit_log(
        self,
        *,
        limit: int | None = None,
        action: str | None = None,
        target_prefix: str | None = None,
        by_actor: str | None = None,
        before_seq: int | None = None,
    ) -> list[AuditEvent]:
        return self.store.audit_log(
            limit=limit,
            action=action,
            target_prefix=target_prefix,
            by_actor=by_actor,
            before_seq=before_seq,
        )

    def verify_audit(self) -> AuditVerification:
        return self.store.verify_audit()
