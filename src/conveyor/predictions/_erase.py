"""Removing logged rows: erasure of one person's predictions, and retention by age.

Both rewrite the Parquet objects holding the rows to remove (the rows kept go to a new
object with a new content hash), then swap the index entries in one atomic, audited write
through :meth:`BasePredictionRecords.replace_partitions`. The old objects stay in the
artifact store, unreferenced, until ``conveyor gc`` collects them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.artifacts import ArtifactStore
from conveyor.core import Actor
from conveyor.predictions._base import BasePredictionRecords
from conveyor.predictions._parquet import decode_batch, filter_batch, input_values
from conveyor.predictions._records import NewPartition, PartitionInfo

if TYPE_CHECKING:
    import pyarrow as pa

#: Given a decoded batch, which of its rows to remove.
Selector = Callable[["pa.Table"], list[bool]]


@dataclass(frozen=True)
class RemovalResult:
    """What an erasure or a retention pass removed from the prediction log.

    Attributes:
        rows: Logged predictions removed.
        partitions: Parquet objects that held them (rewritten without them, or dropped).
        labels: Feedback labels removed with them.
    """

    rows: int
    partitions: int
    labels: int = 0


def remove_rows(
    records: BasePredictionRecords,
    artifacts: ArtifactStore,
    actor: Actor,
    candidates: list[PartitionInfo],
    select: Selector,
    *,
    action: str,
    target: str,
    details: dict[str, Any],
    whole: Callable[[PartitionInfo], bool] | None = None,
) -> RemovalResult:
    """Rewrite ``candidates`` without the rows ``select`` picks, in one audited index write.

    ``whole`` names the candidates known from the index alone to lose every row: of those
    only the request ids are read (their labels go too), and nothing is rewritten.
    """
    replacements: dict[int, NewPartition | None] = {}
    forget: list[str] = []
    rows = 0
    for partition in candidates:
        if whole is not None and whole(partition):
            data = artifacts.get_bytes(partition.content_hash)
            ids = decode_batch(data, columns=["request_id"]).column("request_id").to_pylist()
            forget.extend(ids)
            rows += len(ids)
            replacements[partition.id] = None
            continue
        table = decode_batch(artifacts.get_bytes(partition.content_hash))
        remove = select(table)
        if not any(remove):
            continue
        request_ids = table.column("request_id").to_pylist()
        forget.extend(r for r, gone in zip(request_ids, remove, strict=True) if gone)
        rows += sum(remove)
        keep = [not gone for gone in remove]
        replacements[partition.id] = (
            _rewritten(partition, table, keep, artifacts) if any(keep) else None
        )
    if not replacements:
        return RemovalResult(rows=0, partitions=0)
    labels = len(records.labels(forget))
    records.replace_partitions(
        actor,
        action,
        target,
        replacements,
        forget_labels=forget,
        details={**details, "rows": rows, "partitions": len(replacements), "labels": labels},
    )
    return RemovalResult(rows=rows, partitions=len(replacements), labels=labels)


def matching(feature: str, wanted: Any) -> Selector:
    """Rows whose input ``feature`` equals ``wanted`` (or whose text form does, for text)."""

    def select(table: pa.Table) -> list[bool]:
        values = input_values(table, feature)
        if values is None:
            return [False] * table.num_rows
        return [_equal(value, wanted) for value in values]

    return select


def older_than(cutoff: datetime) -> Selector:
    """Rows logged before ``cutoff``."""

    def select(table: pa.Table) -> list[bool]:
        import pyarrow as pa
        import pyarrow.compute as pc

        limit = pa.scalar(cutoff, pa.timestamp("us", tz="UTC"))
        return [bool(old) for old in pc.less(table.column("at"), limit).to_pylist()]

    return select


def _equal(value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    if value == wanted and isinstance(value, bool) == isinstance(wanted, bool):
        return True
    return isinstance(wanted, str) and not isinstance(value, str) and str(value) == wanted


def _rewritten(
    partition: PartitionInfo, table: pa.Table, keep: list[bool], artifacts: ArtifactStore
) -> NewPartition:
    times = [at for at, kept in zip(table.column("at").to_pylist(), keep, strict=True) if kept]
    digest = artifacts.put_bytes(filter_batch(table, keep)).hash
    return NewPartition(
        model=partition.model,
        version=partition.version,
        environment=partition.environment,
        variant=partition.variant,
        revision=partition.revision,
        first_at=min(times),
        last_at=max(times),
        rows=len(times),
        content_hash=digest,
    )
