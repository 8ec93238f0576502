"""Queries over the audit tables: the filtered log, and undecoded rows for verification."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Text, select, type_coerce

from conveyor.store._models import AuditCheckpointRow, AuditEventRow


def audit_log_query(
    *,
    limit: int | None,
    action: str | None,
    target_prefix: str | None,
    by_actor: str | None,
    before_seq: int | None,
) -> Select[AuditEventRow]:
    """The audit events matching the filters of :meth:`MetadataStore.audit_log`."""
    query = select(AuditEventRow)
    if action is not None:
        query = query.where(AuditEventRow.action == action)
    if target_prefix is not None:
        query = query.where(AuditEventRow.target.startswith(target_prefix, autoescape=True))
    if by_actor is not None:
        query = query.where(AuditEventRow.actor == by_actor)
    if before_seq is not None:
        query = query.where(AuditEventRow.seq < before_seq)
    if limit is not None:
        query = query.order_by(AuditEventRow.seq.desc()).limit(max(limit, 0))
    return query


def raw_events_query() -> Select[Any]:
    """Every audit event's columns in ``seq`` order, ``at`` and ``details`` undecoded."""
    table = AuditEventRow.__table__
    raw = [type_coerce(table.c[name], Text) for name in ("at", "details")]
    return (
        select(
            table.c.seq,
            raw[0],
            table.c.actor,
            table.c.action,
            table.c.target,
            raw[1],
            table.c.prev_hash,
            table.c.hash,
        )
        .order_by(table.c.seq)
        .execution_options(yield_per=1000)
    )


def raw_checkpoints_query() -> Select[Any]:
    """Every checkpoint's columns, ``at`` undecoded (a tampered value is reported, not raised)."""
    table = AuditCheckpointRow.__table__
    return select(
        table.c.id,
        table.c.seq,
        table.c.hash,
        type_coerce(table.c.at, Text),
        table.c.key_id,
        table.c.signature,
    ).order_by(table.c.id)
