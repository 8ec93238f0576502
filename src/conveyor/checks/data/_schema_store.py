"""Stored data schemas: inferred from a dataset version, versioned per dataset.

Each call to :func:`infer_schema` that produces a different document appends the next
schema version of the dataset (contiguous, starting at 1) to the workspace's check records
(:func:`~conveyor.checks.check_records`), in one audited write (``schema.infer``);
inferring the same document again returns the latest version unchanged. Nothing is
updated in place, so a check result can always name the exact schema version it validated
against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandera.pandas as pa

from conveyor.checks._records import check_records
from conveyor.checks._records_base import SchemaRecord
from conveyor.checks.data._errors import DataCheckInputError, SchemaNotFoundError
from conveyor.checks.data._schema_infer import (
    DEFAULT_TOLERANCE,
    InferOptions,
    build_pandera,
    infer_frame_schema,
)
from conveyor.core import isoformat

if TYPE_CHECKING:
    from conveyor.data import DatasetRef
    from conveyor.workspace import Workspace


@dataclass(frozen=True)
class StoredSchema(SchemaRecord):
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

    unchanged: bool = False

    @property
    def pandera(self) -> pa.DataFrameSchema:
        """The pandera schema (rebuilt from the document)."""
        return build_pandera(self.document)

    @classmethod
    def from_record(cls, record: SchemaRecord, *, unchanged: bool = False) -> StoredSchema:
        """Build from what the check records returned."""
        return cls(
            dataset=record.dataset,
            version=record.version,
            from_dataset_version=record.from_dataset_version,
            document=dict(record.document),
            created_at=record.created_at,
            created_by=record.created_by,
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
    record, created = check_records(ws).add_schema(
        ws.actor, version.name, version.version, document
    )
    return StoredSchema.from_record(record, unchanged=not created)


def latest_schema(ws: Workspace, dataset: str) -> StoredSchema | None:
    """The newest stored schema of ``dataset``, or ``None`` when none was inferred."""
    record = check_records(ws).latest_schema(dataset)
    return None if record is None else StoredSchema.from_record(record)


def get_schema(ws: Workspace, dataset: str, version: int | None = None) -> StoredSchema:
    """A stored schema version of ``dataset`` (default the newest).

    Raises:
        SchemaNotFoundError: No schema stored for the dataset, or no such version; the
            message lists the versions that exist.
    """
    records = check_records(ws).list_schemas(dataset)
    if not records:
        raise SchemaNotFoundError(
            f"No schema is stored for dataset {dataset!r}.",
            hint=f"Infer one from a good version first: "
            f"conveyor.checks.data.infer_schema(ws, '{dataset}@<version>').",
            dataset=dataset,
        )
    if version is None:
        return StoredSchema.from_record(records[-1])
    for record in records:
        if record.version == version:
            return StoredSchema.from_record(record)
    raise SchemaNotFoundError(
        f"Dataset {dataset!r} has no schema version {version}; it has versions "
        f"1-{records[-1].version}.",
        hint="Omit the version to use the newest schema.",
        dataset=dataset,
        version=version,
    )


def list_schemas(ws: Workspace, dataset: str) -> list[StoredSchema]:
    """Every stored schema version of ``dataset``, oldest first."""
    return [StoredSchema.from_record(record) for record in check_records(ws).list_schemas(dataset)]
