"""Stored data schemas: inferred from a dataset version, versioned per dataset.

Each call to :func:`infer_schema` that produces a different document appends the next
schema version of the dataset (contiguous, starting at 1) in the ``data_schemas`` table, in
one audited transaction (``schema.infer``); inferring the same document again returns the
latest version unchanged. Nothing is updated in place, so a check result can always name
the exact schema version it validated against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandera.pandas as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.checks.data._errors import DataCheckInputError, SchemaNotFoundError
from conveyor.checks.data._schema_infer import (
    DEFAULT_TOLERANCE,
    InferOptions,
    build_pandera,
    infer_frame_schema,
)
from conveyor.core import isoformat, utcnow
from conveyor.store import DataSchemaRow, WriteTx

if TYPE_CHECKING:
    from conveyor.data import DatasetRef
    from conveyor.workspace import Workspace


@dataclass(frozen=True)
class StoredSchema:
    """One stored schema version of a dataset.

    Attributes:
        dataset: The dataset name.
        version: The schema version (1, 2, ... per dataset).
        from_dataset_version: The dataset version it was inferred from.
        document: The schema document (see :func:`infer_frame_schema`).
        created_at: When it was stored (UTC).
        created_by: Who stored it.
        unchanged: True when :func:`infer_schema` found the same document already stored.
    """

    dataset: str
    version: int
    from_dataset_version: int
    document: dict[str, Any]
    created_at: datetime
    created_by: str
    unchanged: bool = False

    @property
    def ref(self) -> str:
        """``"<dataset> schema v<version>"``, as explanations name it."""
        return f"{self.dataset} schema v{self.version}"

    @property
    def pandera(self) -> pa.DataFrameSchema:
        """The pandera schema (rebuilt from the document)."""
        return build_pandera(self.document)

    @classmethod
    def from_row(cls, row: DataSchemaRow, *, unchanged: bool = False) -> StoredSchema:
        """Build from a metadata row."""
        return cls(
            dataset=row.dataset,
            version=row.version,
            from_dataset_version=row.from_dataset_version,
            document=dict(row.schema),
            created_at=row.created_at,
            created_by=row.created_by,
            unchanged=unchanged,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "dataset": self.dataset,
            "version": self.version,
            "from_dataset_version": self.from_dataset_version,
            "schema": self.document,
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
            "unchanged": self.unchanged,
        }


def infer_schema(
    ws: Workspace,
    dataset_ref: str | DatasetRef,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    max_categories: int = 50,
    min_rows_factor: float = 0.5,
    max_rows_factor: float = 2.0,
) -> StoredSchema:
    """Infer the schema of a table version and store it as the dataset's next schema version.

    Args:
        ws: The open workspace.
        dataset_ref: The version to infer from (``"orders@3"``; ``"orders"`` is the latest).
        tolerance: Widen numeric ranges by this share of their span on each side
            (default 0.25, so a new sample's natural extremes pass; 0 keeps the observed
            min and max).
        max_categories: String columns with at most this many values get allowed categories.
        min_rows_factor: Lowest accepted row count as a multiple of this version's.
        max_rows_factor: Highest accepted row count as a multiple of this version's.

    Returns:
        The stored schema (``unchanged=True`` if the latest stored one was identical).

    Raises:
        DatasetNotFoundError: No such dataset.
        VersionNotFoundError: No such version.
        DataCheckInputError: The version is not a table, or has no rows.
        ConfigError: An option is out of range.

    Example:
        >>> stored = infer_schema(ws, "orders@1", tolerance=0.1)  # doctest: +SKIP
        >>> stored.ref  # doctest: +SKIP
        'orders schema v1'
    """
    options = InferOptions(tolerance, max_categories, min_rows_factor, max_rows_factor)
    version = ws.datasets.get(dataset_ref)
    if version.kind != "table":
        raise DataCheckInputError(
            f"Dataset {version.ref} is a {version.kind}, not a table: only tables have a "
            "schema to infer.",
            hint="Infer the schema from a table version (CSV, Parquet or a DataFrame).",
            dataset=version.name,
            version=version.version,
        )
    frame = ws.datasets.load(version.ref)
    if len(frame) == 0:
        raise DataCheckInputError(
            f"Dataset {version.ref} has no rows: there is nothing to infer a schema from.",
            hint="Infer from a version with representative rows.",
            dataset=version.name,
            version=version.version,
        )
    document = infer_frame_schema(frame, version.profile, options)

    def record(tx: WriteTx) -> StoredSchema:
        session = tx.session
        latest = _latest_row(session, version.name)
        if (
            latest is not None
            and latest.schema == document
            and latest.from_dataset_version == version.version
        ):
            raise _Unchanged(StoredSchema.from_row(latest, unchanged=True))
        number = 1 if latest is None else latest.version + 1
        row = DataSchemaRow(
            dataset=version.name,
            version=number,
            from_dataset_version=version.version,
            schema=document,
            created_at=utcnow(),
            created_by=ws.actor.name,
        )
        session.add(row)
        session.flush()
        tx.details.update(schema_version=number, from_dataset_version=version.version)
        return StoredSchema.from_row(row)

    try:
        return ws.store.transact(ws.actor, "schema.infer", f"dataset:{version.name}", record)
    except _Unchanged as same:
        return same.stored


class _Unchanged(Exception):
    """Rolls the transaction back (no audit event) when the schema is already stored."""

    def __init__(self, stored: StoredSchema) -> None:
        super().__init__(stored.ref)
        self.stored = stored


def _latest_row(session: Session, dataset: str) -> DataSchemaRow | None:
    latest = (
        select(func.max(DataSchemaRow.version))
        .where(DataSchemaRow.dataset == dataset)
        .scalar_subquery()
    )
    row: DataSchemaRow | None = session.scalars(
        select(DataSchemaRow).where(
            DataSchemaRow.dataset == dataset, DataSchemaRow.version == latest
        )
    ).first()
    return row


def latest_schema(ws: Workspace, dataset: str) -> StoredSchema | None:
    """The newest stored schema of ``dataset``, or ``None`` when none was inferred."""
    with ws.store.read() as session:
        row = _latest_row(session, dataset)
        return None if row is None else StoredSchema.from_row(row)


def get_schema(ws: Workspace, dataset: str, version: int | None = None) -> StoredSchema:
    """A stored schema version of ``dataset`` (default the newest).

    Raises:
        SchemaNotFoundError: No schema stored for the dataset, or no such version; the
            message lists the versions that exist.
    """
    with ws.store.read() as session:
        rows = session.scalars(
            select(DataSchemaRow)
            .where(DataSchemaRow.dataset == dataset)
            .order_by(DataSchemaRow.version)
        ).all()
        if not rows:
            raise SchemaNotFoundError(
                f"No schema is stored for dataset {dataset!r}.",
                hint=f"Infer one from a good version first: "
                f"conveyor.checks.data.infer_schema(ws, '{dataset}@<version>').",
                dataset=dataset,
            )
        if version is None:
            return StoredSchema.from_row(rows[-1])
        for row in rows:
            if row.version == version:
                return StoredSchema.from_row(row)
        raise SchemaNotFoundError(
            f"Dataset {dataset!r} has no schema version {version}; it has versions "
            f"1-{rows[-1].version}.",
            hint="Omit the version to use the newest schema.",
            dataset=dataset,
            version=version,
        )


def list_schemas(ws: Workspace, dataset: str) -> list[StoredSchema]:
    """Every stored schema version of ``dataset``, oldest first."""
    with ws.store.read() as session:
        rows = session.scalars(
            select(DataSchemaRow)
            .where(DataSchemaRow.dataset == dataset)
            .order_by(DataSchemaRow.version)
        ).all()
        return [StoredSchema.from_row(row) for row in rows]
