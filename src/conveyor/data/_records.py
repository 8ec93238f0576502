"""Reading dataset records from the metadata store, with the errors users see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from conveyor.data._models import DatasetSummary
from conveyor.data._refs import DatasetRef
from conveyor.errors import DatasetNotFoundError, VersionNotFoundError
from conveyor.store import ArtifactRefRow, DatasetRow, DatasetVersionRow, WriteTx

_SHOWN_NAMES = 5


def compact_ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3, 5"``."""
    parts: list[str] = []
    ordered = sorted(numbers)
    start = prev = ordered[0] if ordered else 0
    for number in [*ordered[1:], None]:
        if number is not None and number == prev + 1:
            prev = number
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if number is not None:
            start = prev = number
    return ", ".join(parts) if ordered else "none"


def find_dataset(session: Session, name: str) -> DatasetRow | None:
    """The dataset row named ``name``, or ``None``."""
    return session.scalar(select(DatasetRow).where(DatasetRow.name == name))


def require_dataset(session: Session, name: str) -> DatasetRow:
    """The dataset row named ``name``.

    Raises:
        DatasetNotFoundError: listing the first few known names.
    """
    row = find_dataset(session, name)
    if row is not None:
        return row
    names = list(
        session.scalars(select(DatasetRow.name).order_by(DatasetRow.name).limit(_SHOWN_NAMES + 1))
    )
    if not names:
        known = "No datasets exist yet."
    else:
        more = ", ..." if len(names) > _SHOWN_NAMES else ""
        known = "Known datasets: " + ", ".join(names[:_SHOWN_NAMES]) + more + "."
    raise DatasetNotFoundError(
        f"No dataset named {name!r}. {known}",
        hint=f"Run `conveyor data list` to see every dataset, or create it with "
        f"`conveyor data add {name} <path>`.",
        name=name,
    )


def latest_row(session: Session, dataset_id: int) -> DatasetVersionRow | None:
    """The newest version row of a dataset, or ``None``."""
    return session.scalar(
        select(DatasetVersionRow)
        .where(DatasetVersionRow.dataset_id == dataset_id)
        .order_by(DatasetVersionRow.version.desc())
        .limit(1)
    )


def version_row(session: Session, dataset_id: int, version: int) -> DatasetVersionRow | None:
    """The row of one version, or ``None``."""
    return session.scalar(
        select(DatasetVersionRow).where(
            DatasetVersionRow.dataset_id == dataset_id, DatasetVersionRow.version == version
        )
    )


def require_version(session: Session, ref: DatasetRef) -> DatasetVersionRow:
    """The row ``ref`` names (its latest version when ``ref.version`` is ``None``).

    Raises:
        DatasetNotFoundError: no such dataset.
        VersionNotFoundError: "Dataset 'orders' has no version 7. Versions: 1-5."
    """
    dataset = require_dataset(session, ref.name)
    row = (
        latest_row(session, dataset.id)
        if ref.version is None
        else version_row(session, dataset.id, ref.version)
    )
    if row is not None:
        return row
    numbers = list(
        session.scalars(
            select(DatasetVersionRow.version).where(DatasetVersionRow.dataset_id == dataset.id)
        )
    )
    raise VersionNotFoundError(
        f"Dataset {ref.name!r} has no version {ref.version}. Versions: {compact_ranges(numbers)}.",
        hint=f"Run `conveyor data log {ref.name}` to see its versions.",
        name=ref.name,
        version=ref.version,
    )


def owner_of(name: str, version: int) -> str:
    """The artifact-reference owner of a dataset version, ``dataset:<name>@<version>``."""
    return f"dataset:{name}@{version}"


def version_row_from_manifest(
    manifest: dict[str, Any],
    dataset_id: int,
    content_hash: str,
    *,
    seal: Callable[[dict[str, Any] | None, str], dict[str, Any] | None] | None = None,
) -> DatasetVersionRow:
    """The metadata row that a manifest describes (its profile sealed by ``seal``, if given)."""
    files = manifest["files"].values()
    parent = manifest["parent"]
    return DatasetVersionRow(
        dataset_id=dataset_id,
        version=manifest["version"],
        kind=manifest["kind"],
        content_hash=content_hash,
        size_bytes=sum(int(f["size"]) for f in files),
        file_count=len(manifest["files"]),
        row_count=manifest["row_count"],
        schema=manifest["schema"],
        profile=manifest["profile"]
        if seal is None
        else seal(manifest["profile"], owner_of(manifest["name"], manifest["version"])),
        parent_version=None if parent is None else parent["version"],
        message=manifest["message"],
        source=manifest["source"],
        created_at=datetime.fromisoformat(manifest["created_at"]),
        created_by=manifest["created_by"],
    )


def add_refs(tx: WriteTx, name: str, version: int, hashes: set[str]) -> None:
    """Register every object a version references, so garbage collection keeps it."""
    owner = owner_of(name, version)
    for digest in sorted(hashes):
        tx.session.add(ArtifactRefRow(hash=digest, owner=owner))


def dataset_summaries(session: Session) -> list[DatasetSummary]:
    """Every dataset with its newest version, sorted by name."""
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
    return [
        DatasetSummary(name, row.version, int(count), row.kind, row.created_at)
        for name, row, count in session.execute(query)
    ]
