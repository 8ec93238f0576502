"""Dataset version records in the metadata store (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.core import Actor
from conveyor.data._base import BaseDatasetRecords, owner_of
from conveyor.data._errors import DatasetVersionConflictError
from conveyor.data._models import DatasetSummary, DatasetVersion
from conveyor.store import MetadataStore, WriteTx
from conveyor.store._data_models import DatasetRow, DatasetVersionRow


def _to_version(name: str, row: DatasetVersionRow) -> DatasetVersion:
    return DatasetVersion(
        name=name,
        version=row.version,
        kind=row.kind,
        content_hash=row.content_hash,
        size_bytes=row.size_bytes,
        file_count=row.file_count,
        row_count=row.row_count,
        schema=row.schema,
        profile=row.profile,
        parent_version=row.parent_version,
        message=row.message,
        source=row.source,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _to_row(version: DatasetVersion, dataset_id: int) -> DatasetVersionRow:
    return DatasetVersionRow(
        dataset_id=dataset_id,
        version=version.version,
        kind=version.kind,
        content_hash=version.content_hash,
        size_bytes=version.size_bytes,
        file_count=version.file_count,
        row_count=version.row_count,
        schema=version.schema,
        profile=version.profile,
        parent_version=version.parent_version,
        message=version.message,
        source=version.source,
        created_at=version.created_at,
        created_by=version.created_by,
    )


def _dataset_id(session: Session, name: str) -> int | None:
    return session.scalar(select(DatasetRow.id).where(DatasetRow.name == name))


def _latest(session: Session, dataset_id: int) -> DatasetVersionRow | None:
    return session.scalar(
        select(DatasetVersionRow)
        .where(DatasetVersionRow.dataset_id == dataset_id)
        .order_by(DatasetVersionRow.version.desc())
        .limit(1)
    )


def _version_row(session: Session, dataset_id: int, number: int) -> DatasetVersionRow | None:
    return session.scalar(
        select(DatasetVersionRow).where(
            DatasetVersionRow.dataset_id == dataset_id, DatasetVersionRow.version == number
        )
    )


def _insert(
    tx: WriteTx, dataset_id: int, version: DatasetVersion, objects: Collection[str]
) -> None:
    """The version's row and the references that keep its objects through gc."""
    tx.session.add(_to_row(version, dataset_id))
    owner = owner_of(version.name, version.version)
    tx.reference(owner, sorted({version.content_hash, *objects}))


def _create_dataset(tx: WriteTx, first: DatasetVersion, actor: Actor) -> int:
    row = DatasetRow(
        name=first.name,
        created_at=first.created_at,
        created_by=first.created_by if first.version == 1 else actor.name,
    )
    tx.session.add(row)
    tx.session.flush()
    return row.id


class SqlDatasetRecords(BaseDatasetRecords):
    """Dataset records in the ``datasets`` and ``dataset_versions`` tables of a store.

    Writes go through :meth:`MetadataStore.transact`, which serialises writers and
    appends the audit event in the same transaction. Safe to share between threads.

    Args:
        store: The metadata store holding the records.

    Example:
        >>> records = SqlDatasetRecords(store)  # doctest: +SKIP
        >>> records.get_version("orders").ref  # doctest: +SKIP
        'orders@3'
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"SqlDatasetRecords({self.store!r})"

    def find_version(self, name: str, version: int | None = None) -> DatasetVersion | None:
        with self.store.read() as session:
            dataset_id = _dataset_id(session, name)
            if dataset_id is None:
                return None
            row = (
                _latest(session, dataset_id)
                if version is None
                else _version_row(session, dataset_id, version)
            )
            return None if row is None else _to_version(name, row)

    def versions(self, name: str) -> list[DatasetVersion]:
        with self.store.read() as session:
            rows = session.scalars(
                select(DatasetVersionRow)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(DatasetRow.name == name)
                .order_by(DatasetVersionRow.version)
            )
            return [_to_version(name, row) for row in rows]

    def summaries(self) -> list[DatasetSummary]:
        counts = (
            select(
                DatasetVersionRow.dataset_id,
                func.max(DatasetVersionRow.version).label("latest"),
                func.count().label("versions"),
            )
            .group_by(DatasetVersionRow.dataset_id)
            .subquery()
        )
        query = (
            select(DatasetRow.name, DatasetVersionRow, counts.c.versions)
            .join(counts, counts.c.dataset_id == DatasetRow.id)
            .join(
                DatasetVersionRow,
                (DatasetVersionRow.dataset_id == DatasetRow.id)
                & (DatasetVersionRow.version == counts.c.latest),
            )
            .order_by(DatasetRow.name)
        )
        with self.store.read() as session:
            return [
                DatasetSummary(name, row.version, int(count), row.kind, row.created_at)
                for name, row, count in session.execute(query)
            ]

    def add_version(
        self, actor: Actor, version: DatasetVersion, objects: Collection[str]
    ) -> DatasetVersion:
        def record(tx: WriteTx) -> DatasetVersion:
            dataset_id = _dataset_id(tx.session, version.name)
            latest = None if dataset_id is None else _latest(tx.session, dataset_id)
            expected = 1 if latest is None else latest.version + 1
            if version.version != expected:
                raise DatasetVersionConflictError(
                    f"Cannot record {version.ref}: the next version of dataset "
                    f"{version.name!r} is {expected}.",
                    hint="Another writer recorded a version first; read the latest again "
                    "and retry.",
                    name=version.name,
                    version=version.version,
                    expected=expected,
                )
            if dataset_id is None:
                dataset_id = _create_dataset(tx, version, actor)
            _insert(tx, dataset_id, version, objects)
            tx.session.flush()
            tx.details.update(
                version=version.version,
                content_hash=version.content_hash,
                kind=version.kind,
                files=version.file_count,
            )
            return self._stored(version)

        return self.store.transact(
            actor, "data.add", owner_of(version.name, version.version), record
        )

    def import_versions(
        self, actor: Actor, versions: Sequence[tuple[DatasetVersion, Collection[str]]]
    ) -> list[DatasetVersion]:
        names = {v.name for v, _ in versions}
        if len(names) != 1:
            raise ValueError(
                f"import_versions takes versions of exactly one dataset, got {sorted(names)}"
            )
        first, last = versions[0][0], versions[-1][0]

        def record(tx: WriteTx) -> list[DatasetVersion]:
            dataset_id = _dataset_id(tx.session, first.name)
            if dataset_id is None:
                dataset_id = _create_dataset(tx, first, actor)
            recorded: list[DatasetVersion] = []
            for version, objects in versions:
                if _version_row(tx.session, dataset_id, version.version) is not None:
                    continue  # recorded by a concurrent pull
                _insert(tx, dataset_id, version, objects)
                recorded.append(self._stored(version))
            tx.session.flush()
            tx.details.update(versions=[v.ref for v in recorded])
            return recorded

        return self.store.transact(actor, "data.pull", owner_of(last.name, last.version), record)

    @staticmethod
    def _stored(version: DatasetVersion) -> DatasetVersion:
        """What :meth:`find_version` will return for ``version`` (no add-only fields)."""
        return replace(version, unchanged=False, stats=None)
