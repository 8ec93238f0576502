"""The feature store's records: definition versions, offline tables, materializations.

:class:`BaseFeatureRecords` is the contract; :class:`SqlFeatureRecords` keeps the records in
the metadata store (``feature_definitions``, ``feature_tables``,
``feature_materializations``, declared in ``conveyor.store._feature_models``; this module is
the only one of :mod:`conveyor.features` that reads or writes them). Every write is one
audited transaction.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select

from conveyor.core import Actor, utcnow
from conveyor.store._feature_models import (
    FeatureDefinitionRow,
    FeatureMaterializationRow,
    FeatureTableRow,
)

if TYPE_CHECKING:
    from conveyor.store import MetadataStore

__all__ = [
    "BaseFeatureRecords",
    "DefinitionRecord",
    "FeatureTableRecord",
    "Kind",
    "MaterializationRecord",
    "SqlFeatureRecords",
]

Kind = Literal["entity", "view", "service"]


@dataclass(frozen=True)
class DefinitionRecord:
    """One recorded version of a definition."""

    kind: str
    name: str
    version: int
    definition_hash: str
    spec: dict[str, Any]
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


@dataclass(frozen=True)
class FeatureTableRecord:
    """A view's offline table computed from one dataset version, stored as Parquet."""

    view: str
    view_version: int
    dataset: str
    dataset_version: int
    artifact_hash: str
    rows: int
    min_ts: datetime | None
    max_ts: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class MaterializationRecord:
    """One materialization of a view into an online store (``running`` until committed)."""

    id: int
    view: str
    view_version: int
    dataset_version: int
    store_id: str
    status: str
    start_ts: datetime | None
    end_ts: datetime
    watermark: datetime | None
    rows: int
    started_at: datetime
    finished_at: datetime | None
    created_by: str


class BaseFeatureRecords(abc.ABC):
    """Where the feature store's records live."""

    @abc.abstractmethod
    def record_definitions(
        self, actor: Actor, items: Sequence[tuple[str, str, str, dict[str, Any]]]
    ) -> list[tuple[DefinitionRecord, bool]]:
        """Record ``(kind, name, definition_hash, spec)`` items in one audited write
        (``features.apply``): a definition whose latest version has another hash gets the
        next version; one with the same hash is left alone.

        Returns:
            For each item, its current record and whether a new version was recorded.
        """

    @abc.abstractmethod
    def get(self, kind: str, name: str, version: int | None = None) -> DefinitionRecord | None:
        """One version of a definition (its latest when ``version`` is ``None``)."""

    @abc.abstractmethod
    def history(self, kind: str, name: str) -> list[DefinitionRecord]:
        """Every version of a definition, oldest first."""

    @abc.abstractmethod
    def latest(self, kind: str | None = None) -> list[DefinitionRecord]:
        """The latest version of every definition (of ``kind``), by kind then name."""

    @abc.abstractmethod
    def find_table(
        self, view: str, view_version: int, dataset: str, dataset_version: int
    ) -> FeatureTableRecord | None:
        """The offline table of a view version over a dataset version, if computed."""

    @abc.abstractmethod
    def record_table(self, actor: Actor, table: FeatureTableRecord) -> FeatureTableRecord:
        """Record an offline table (and reference its artifact); one already recorded for
        the same source wins (computing it twice gives the same table)."""

    @abc.abstractmethod
    def start_materialization(
        self,
        actor: Actor,
        *,
        view: str,
        view_version: int,
        dataset_version: int,
        store_id: str,
        start_ts: datetime | None,
        end_ts: datetime,
    ) -> MaterializationRecord:
        """Record that a materialization started (status ``running``)."""

    @abc.abstractmethod
    def commit_materialization(
        self, actor: Actor, id: int, *, rows: int, watermark: datetime | None
    ) -> MaterializationRecord:
        """Mark a materialization ``committed`` with the rows written and its watermark."""

    @abc.abstractmethod
    def last_committed(self, view: str, store_id: str) -> MaterializationRecord | None:
        """The latest committed materialization of ``view`` into the store ``store_id``."""

    @abc.abstractmethod
    def materializations(
        self, view: str | None = None, *, limit: int = 50
    ) -> list[MaterializationRecord]:
        """Materializations, newest first."""


def _definition(row: FeatureDefinitionRow) -> DefinitionRecord:
    return DefinitionRecord(
        kind=row.kind,
        name=row.name,
        version=row.version,
        definition_hash=row.definition_hash,
        spec=dict(row.spec),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _table(row: FeatureTableRow) -> FeatureTableRecord:
    return FeatureTableRecord(
        view=row.view,
        view_version=row.view_version,
        dataset=row.dataset,
        dataset_version=row.dataset_version,
        artifact_hash=row.artifact_hash,
        rows=row.rows,
        min_ts=row.min_ts,
        max_ts=row.max_ts,
        created_at=row.created_at,
    )


def _materialization(row: FeatureMaterializationRow) -> MaterializationRecord:
    return MaterializationRecord(
        id=row.id,
        view=row.view,
        view_version=row.view_version,
        dataset_version=row.dataset_version,
        store_id=row.store_id,
        status=row.status,
        start_ts=row.start_ts,
        end_ts=row.end_ts,
        watermark=row.watermark,
        rows=row.rows,
        started_at=row.started_at,
        finished_at=row.finished_at,
        created_by=row.created_by,
    )


def table_owner(table: FeatureTableRecord) -> str:
    """The artifact-reference owner of an offline table."""
    return f"features:{table.view}@{table.view_version}:{table.dataset}@{table.dataset_version}"


class SqlFeatureRecords(BaseFeatureRecords):
    """Feature records in a :class:`~conveyor.store.MetadataStore` (SQLite or PostgreSQL)."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"SqlFeatureRecords({self.store!r})"

    def record_definitions(
        self, actor: Actor, items: Sequence[tuple[str, str, str, dict[str, Any]]]
    ) -> list[tuple[DefinitionRecord, bool]]:
        out: list[tuple[DefinitionRecord, bool]] = []
        changed: list[str] = []
        with self.store.write(actor, "features.apply", "features") as tx:
            for kind, name, digest, spec in items:
                latest = tx.session.scalars(
                    select(FeatureDefinitionRow)
                    .where(FeatureDefinitionRow.kind == kind, FeatureDefinitionRow.name == name)
                    .order_by(FeatureDefinitionRow.version.desc())
                    .limit(1)
                ).first()
                if latest is not None and latest.definition_hash == digest:
                    out.append((_definition(latest), False))
                    continue
                row = FeatureDefinitionRow(
                    kind=kind,
                    name=name,
                    version=1 if latest is None else latest.version + 1,
                    definition_hash=digest,
                    spec=spec,
                    created_at=utcnow(),
                    created_by=actor.name,
                )
                tx.session.add(row)
                tx.session.flush()
                changed.append(f"{kind}:{name}@{row.version}")
                out.append((_definition(row), True))
            tx.details = {"changed": changed, "definitions": len(items)}
        return out

    def get(self, kind: str, name: str, version: int | None = None) -> DefinitionRecord | None:
        query = select(FeatureDefinitionRow).where(
            FeatureDefinitionRow.kind == kind, FeatureDefinitionRow.name == name
        )
        if version is not None:
            query = query.where(FeatureDefinitionRow.version == version)
        query = query.order_by(FeatureDefinitionRow.version.desc()).limit(1)
        with self.store.read() as session:
            row = session.scalars(query).first()
            return None if row is None else _definition(row)

    def history(self, kind: str, name: str) -> list[DefinitionRecord]:
        query = (
            select(FeatureDefinitionRow)
            .where(FeatureDefinitionRow.kind == kind, FeatureDefinitionRow.name == name)
            .order_by(FeatureDefinitionRow.version)
        )
        with self.store.read() as session:
            return [_definition(r) for r in session.scalars(query)]

    def latest(self, kind: str | None = None) -> list[DefinitionRecord]:
        newest = select(
            FeatureDefinitionRow.kind,
            FeatureDefinitionRow.name,
            func.max(FeatureDefinitionRow.version).label("version"),
        ).group_by(FeatureDefinitionRow.kind, FeatureDefinitionRow.name)
        if kind is not None:
            newest = newest.where(FeatureDefinitionRow.kind == kind)
        sub = newest.subquery()
        query = (
            select(FeatureDefinitionRow)
            .join(
                sub,
                (FeatureDefinitionRow.kind == sub.c.kind)
                & (FeatureDefinitionRow.name == sub.c.name)
                & (FeatureDefinitionRow.version == sub.c.version),
            )
            .order_by(FeatureDefinitionRow.kind, FeatureDefinitionRow.name)
        )
        with self.store.read() as session:
            return [_definition(r) for r in session.scalars(query)]

    def find_table(
        self, view: str, view_version: int, dataset: str, dataset_version: int
    ) -> FeatureTableRecord | None:
        query = select(FeatureTableRow).where(
            FeatureTableRow.view == view,
            FeatureTableRow.view_version == view_version,
            FeatureTableRow.dataset == dataset,
            FeatureTableRow.dataset_version == dataset_version,
        )
        with self.store.read() as session:
            row = session.scalars(query).first()
            return None if row is None else _table(row)

    def record_table(self, actor: Actor, table: FeatureTableRecord) -> FeatureTableRecord:
        found = self.find_table(
            table.view, table.view_version, table.dataset, table.dataset_version
        )
        if found is not None:
            return found
        owner = table_owner(table)
        with self.store.write(actor, "features.table", owner, {"rows": table.rows}) as tx:
            tx.session.add(
                FeatureTableRow(
                    view=table.view,
                    view_version=table.view_version,
                    dataset=table.dataset,
                    dataset_version=table.dataset_version,
                    artifact_hash=table.artifact_hash,
                    rows=table.rows,
                    min_ts=table.min_ts,
                    max_ts=table.max_ts,
                    created_at=table.created_at,
                )
            )
            tx.reference(owner, [table.artifact_hash], existing_ok=True)
        return table

    def start_materialization(
        self,
        actor: Actor,
        *,
        view: str,
        view_version: int,
        dataset_version: int,
        store_id: str,
        start_ts: datetime | None,
        end_ts: datetime,
    ) -> MaterializationRecord:
        details = {"store": store_id, "end": end_ts.isoformat()}
        with self.store.write(actor, "features.materialize", f"view:{view}", details) as tx:
            row = FeatureMaterializationRow(
                view=view,
                view_version=view_version,
                dataset_version=dataset_version,
                store_id=store_id,
                status="running",
                start_ts=start_ts,
                end_ts=end_ts,
                watermark=None,
                rows=0,
                started_at=utcnow(),
                finished_at=None,
                created_by=actor.name,
            )
            tx.session.add(row)
            tx.session.flush()
            return _materialization(row)

    def commit_materialization(
        self, actor: Actor, id: int, *, rows: int, watermark: datetime | None
    ) -> MaterializationRecord:
        with self.store.write(actor, "features.materialized", f"materialization:{id}") as tx:
            row = tx.session.get(FeatureMaterializationRow, id)
            if row is None:
                raise KeyError(f"No materialization {id}.")
            row.status = "committed"
            row.rows = rows
            row.watermark = watermark
            row.finished_at = utcnow()
            tx.target = f"view:{row.view}"
            tx.details = {"id": id, "rows": rows, "store": row.store_id}
            return _materialization(row)

    def last_committed(self, view: str, store_id: str) -> MaterializationRecord | None:
        query = (
            select(FeatureMaterializationRow)
            .where(
                FeatureMaterializationRow.view == view,
                FeatureMaterializationRow.store_id == store_id,
                FeatureMaterializationRow.status == "committed",
            )
            .order_by(FeatureMaterializationRow.id.desc())
            .limit(1)
        )
        with self.store.read() as session:
            row = session.scalars(query).first()
            return None if row is None else _materialization(row)

    def materializations(
        self, view: str | None = None, *, limit: int = 50
    ) -> list[MaterializationRecord]:
        query = select(FeatureMaterializationRow)
        if view is not None:
            query = query.where(FeatureMaterializationRow.view == view)
        query = query.order_by(FeatureMaterializationRow.id.desc()).limit(limit)
        with self.store.read() as session:
            return [_materialization(r) for r in session.scalars(query)]
