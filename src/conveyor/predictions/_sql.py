"""Prediction records in the metadata store (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, column, delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from conveyor.core import Actor, utcnow
from conveyor.predictions._base import BasePredictionRecords
from conveyor.predictions._errors import PredictionLogError
from conveyor.predictions._records import (
    FeedbackLabel,
    FeedbackResult,
    NewPartition,
    PartitionInfo,
)
from conveyor.predictions._usage import ServingUsage
from conveyor.store import MetadataStore, WriteTx
from conveyor.store._prediction_models import FeedbackRow, PredictionBatchRow, ServingUsageRow

#: Bound on the ids of one ``IN (...)`` query (SQLite allows 32766 parameters).
IN_CHUNK = 500
#: Request ids looked up per query when they travel as one parameter (a JSON or array
#: value), not one bind parameter each.
_LOOKUP_CHUNK = 50_000
#: The store's artifact references, by table name: released when a partition is replaced.
#: The columns of a :class:`PartitionInfo`, in the order of its fields.
_PARTITION_COLUMNS = (
    PredictionBatchRow.id,
    PredictionBatchRow.model,
    PredictionBatchRow.version,
    PredictionBatchRow.environment,
    PredictionBatchRow.variant,
    PredictionBatchRow.revision,
    PredictionBatchRow.first_at,
    PredictionBatchRow.last_at,
    PredictionBatchRow.rows,
    PredictionBatchRow.content_hash,
)


class SqlPredictionRecords(BasePredictionRecords):
    """Prediction records in the ``prediction_batches`` and ``feedback`` tables.

    Each partition is one ``prediction_batches`` row (indexed by model version, first and
    last time, and content hash); each label one ``feedback`` row keyed by request id.
    Labels are plain JSON on every dialect, so they come back exactly as given.

    Args:
        store: The metadata store.

    Example:
        >>> records = SqlPredictionRecords(store)  # doctest: +SKIP
        >>> records.partitions(model="churn", version=3)  # doctest: +SKIP
        []
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"SqlPredictionRecords({self.store.url!r})"

    def add_partitions(
        self,
        actor: Actor,
        partitions: Sequence[NewPartition],
        *,
        idempotent: bool = False,
    ) -> list[PartitionInfo]:
        if not partitions:
            return []
        rows = sum(partition.rows for partition in partitions)
        first = partitions[0]
        target = (
            "predictions" if len(partitions) > 1 else f"predictions:{first.model}@{first.version}"
        )

        def body(tx: WriteTx) -> list[PartitionInfo]:
            now = utcnow()
            indexed = []
            for partition in partitions:
                existing = None
                if idempotent:
                    existing = tx.session.scalars(
                        select(PredictionBatchRow).where(
                            PredictionBatchRow.content_hash == partition.content_hash
                        )
                    ).first()
                row = existing or _batch_row(partition, now)
                if existing is None:
                    tx.session.add(row)
                    tx.session.flush()
                    tx.reference(f"prediction_batch:{row.id}", [partition.content_hash])
                indexed.append(_partition_info(row))
            tx.details = {"rows": rows, "batches": [p.id for p in indexed]}
            return indexed

        try:
            return self.store.transact(actor, "predictions.log", target, body)
        except SQLAlchemyError as exc:
            raise PredictionLogError(
                f"Could not index {rows} predictions in the metadata store {self.store.url}: {exc}",
                hint="Check that the metadata store is reachable; the logger spills batches "
                "it cannot write and `recover_spill` ingests them later.",
                url=self.store.url,
            ) from exc

    def partitions(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        variant: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PartitionInfo]:
        row = PredictionBatchRow
        # Plain columns, not ORM objects: a window over a long log lists thousands of
        # partitions, and building entities would cost more than the query.
        query = select(*_PARTITION_COLUMNS).where(
            *_matching(model=model, version=version, environment=environment, variant=variant)
        )
        if since is not None:
            query = query.where(row.last_at >= since)
        if until is not None:
            query = query.where(row.first_at < until)
        query = query.order_by(row.last_at.desc(), row.id.desc())
        with self.store.read() as session:
            return [PartitionInfo(**found._mapping) for found in session.execute(query)]

    def row_count(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        variant: str | None = None,
    ) -> int:
        query = select(func.coalesce(func.sum(PredictionBatchRow.rows), 0)).where(
            *_matching(model=model, version=version, environment=environment, variant=variant)
        )
        with self.store.read() as session:
            return int(session.scalar(query) or 0)

    def labels(self, request_ids: Collection[str]) -> dict[str, FeedbackLabel]:
        ids = list(dict.fromkeys(request_ids))
        found: dict[str, FeedbackLabel] = {}
        # A window of a day holds ~10^5 requests: the ids go as one parameter per query (a
        # JSON array on SQLite, an array on PostgreSQL), not as 500 bind parameters each.
        with self.store.read() as session:
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                wanted = _one_of(self.store.dialect, ids[start : start + _LOOKUP_CHUNK])
                query = select(FeedbackRow).where(wanted)
                found.update((row.request_id, _label(row)) for row in session.scalars(query))
        return found

    def record_feedback(
        self,
        actor: Actor,
        labels: Mapping[str, Any],
        *,
        updates: Mapping[str, int] | None = None,
        overwrite: bool = True,
        unknown: int = 0,
    ) -> FeedbackResult:
        if not labels:
            return FeedbackResult(accepted=0, unknown=unknown, updated=0)
        times = updates or {}

        def body(tx: WriteTx) -> tuple[int, int]:
            now = utcnow()
            ids = list(labels)
            existing: dict[str, FeedbackRow] = {}
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                query = select(FeedbackRow).where(FeedbackRow.request_id.in_(chunk))
                existing.update((row.request_id, row) for row in tx.session.scalars(query))
            for request_id in ids:
                row = existing.get(request_id)
                if row is None:
                    tx.session.add(
                        FeedbackRow(
                            request_id=request_id,
                            label=labels[request_id],
                            at=now,
                            updates=times.get(request_id, 1),
                            first_at=now,
                        )
                    )
                elif overwrite:
                    row.label = labels[request_id]
                    row.at = now
                    row.updates += times.get(request_id, 1)
            kept = 0 if overwrite else len(existing)
            tx.details = {
                "accepted": len(ids) - kept,
                "unknown": unknown,
                "updated": len(existing) - kept,
                "kept": kept,
            }
            return len(existing) - kept, kept

        updated, kept = self.store.transact(
            actor, "predictions.feedback", "predictions:feedback", body
        )
        return FeedbackResult(
            accepted=len(labels) - kept, unknown=unknown, updated=updated, kept=kept
        )

    def replace_partitions(
        self,
        actor: Actor,
        action: str,
        target: str,
        replacements: Mapping[int, NewPartition | None],
        *,
        forget_labels: Collection[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> list[PartitionInfo]:
        if not replacements and not forget_labels:
            return []
        ids = list(replacements)
        forget = list(dict.fromkeys(forget_labels))

        def body(tx: WriteTx) -> list[PartitionInfo]:
            now = utcnow()
            found: set[int] = set()
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                found.update(
                    tx.session.scalars(
                        select(PredictionBatchRow.id).where(PredictionBatchRow.id.in_(chunk))
                    )
                )
            missing = [i for i in ids if i not in found]
            if missing:
                raise PredictionLogError(
                    f"Prediction batches {missing} are not indexed any more; nothing was changed.",
                    hint="Another process rewrote them meanwhile: run the command again.",
                    batches=missing,
                )
            added: list[PartitionInfo] = []
            for start in range(0, len(ids), IN_CHUNK):
                chunk = ids[start : start + IN_CHUNK]
                tx.session.execute(
                    delete(PredictionBatchRow).where(PredictionBatchRow.id.in_(chunk))
                )
                tx.unreference(f"prediction_batch:{i}" for i in chunk)
            for partition in replacements.values():
                if partition is None:
                    continue
                row = _batch_row(partition, now)
                tx.session.add(row)
                tx.session.flush()
                tx.reference(f"prediction_batch:{row.id}", [partition.content_hash])
                added.append(_partition_info(row))
            # A retention pass forgets millions of request ids: one parameter per query.
            for start in range(0, len(forget), _LOOKUP_CHUNK):
                request_ids = forget[start : start + _LOOKUP_CHUNK]
                tx.session.execute(
                    delete(FeedbackRow).where(_one_of(self.store.dialect, request_ids))
                )
            tx.details = {**(details or {}), "removed": ids, "batches": [p.id for p in added]}
            return added

        return self.store.transact(actor, action, target, body)

    def record_usage(self, actor: Actor, usage: Sequence[ServingUsage]) -> None:
        if not usage:
            return
        details = {"predictions": sum(u.predictions for u in usage)}

        def body(tx: WriteTx) -> None:
            for u in usage:
                row = tx.session.scalars(
                    select(ServingUsageRow).where(
                        ServingUsageRow.process_id == u.process_id,
                        ServingUsageRow.model == u.model,
                        ServingUsageRow.version == u.version,
                    )
                ).one_or_none()
                if row is None:
                    tx.session.add(ServingUsageRow(**_usage_columns(u)))
                    continue
                for name, value in _usage_columns(u).items():
                    setattr(row, name, value)

        target = f"serving:{usage[0].process_id}"
        self.store.transact(actor, "serving.usage", target, body, details=details)

    def usage(
        self,
        *,
        model: str | None = None,
        version: int | None = None,
        environment: str | None = None,
        since: datetime | None = None,
    ) -> list[ServingUsage]:
        row = ServingUsageRow
        pairs: tuple[tuple[Any, Any], ...] = (
            (row.model, model),
            (row.version, version),
            (row.environment, environment),
        )
        query = select(row).where(*[c == v for c, v in pairs if v is not None])
        if since is not None:
            query = query.where(row.updated_at >= since)
        query = query.order_by(row.started_at, row.process_id, row.version)
        with self.store.read() as session:
            return [_usage(found) for found in session.scalars(query)]


_USAGE_FIELDS = tuple(ServingUsage.__dataclass_fields__)


def _usage_columns(usage: ServingUsage) -> dict[str, Any]:
    return {name: getattr(usage, name) for name in _USAGE_FIELDS}


def _usage(row: ServingUsageRow) -> ServingUsage:
    return ServingUsage(**{name: getattr(row, name) for name in _USAGE_FIELDS})


def _matching(
    *,
    model: str | None,
    version: int | None,
    environment: str | None,
    variant: str | None,
) -> list[ColumnElement[bool]]:
    """Conditions on partitions of the given model version and deployment (``None``: any)."""
    row = PredictionBatchRow
    pairs: tuple[tuple[Any, Any], ...] = (
        (row.model, model),
        (row.version, version),
        (row.environment, environment),
        (row.variant, variant),
    )
    return [column == value for column, value in pairs if value is not None]


def _one_of(dialect: str, ids: list[str]) -> ColumnElement[bool]:
    """``feedback.request_id`` is one of ``ids``, with ``ids`` bound as a single value."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        array = bindparam("request_ids", ids, type_=ARRAY(String()))
        return FeedbackRow.request_id == any_(array)
    if dialect == "sqlite":
        listed = select(column("value", String())).select_from(
            func.json_each(bindparam("request_ids", json.dumps(ids), type_=String()))
        )
        return FeedbackRow.request_id.in_(listed)
    return FeedbackRow.request_id.in_(ids)


def _batch_row(partition: NewPartition, now: datetime) -> PredictionBatchRow:
    return PredictionBatchRow(
        model=partition.model,
        version=partition.version,
        environment=partition.environment,
        variant=partition.variant,
        revision=partition.revision,
        first_at=partition.first_at,
        last_at=partition.last_at,
        rows=partition.rows,
        content_hash=partition.content_hash,
        created_at=now,
    )


def _partition_info(row: PredictionBatchRow) -> PartitionInfo:
    return PartitionInfo(
        id=row.id,
        model=row.model,
        version=row.version,
        environment=row.environment,
        variant=row.variant,
        revision=row.revision,
        first_at=row.first_at,
        last_at=row.last_at,
        rows=row.rows,
        content_hash=row.content_hash,
    )


def _label(row: FeedbackRow) -> FeedbackLabel:
    return FeedbackLabel(
        request_id=row.request_id,
        label=row.label,
        at=row.at,
        updates=row.updates,
        first_at=row.first_at,
    )
