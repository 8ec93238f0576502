"""Lineage read straight from the metadata store: a run's datasets, code version, metrics.

The registry sits beside ``conveyor.tracking`` and ``conveyor.data`` (same layer), so it
reads their rows from the store instead of importing those packages.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.registry._errors import RegistrationError
from conveyor.store import DatasetRow, DatasetVersionRow, RunDatasetRow, RunMetricRow, RunRow

#: Guards against a corrupted parent chain that loops.
_MAX_DEPTH = 64


def run_lineage(session: Session, run_id: str) -> tuple[dict[str, Any], dict[str, float]]:
    """Return ``(lineage, latest metrics)`` of a run.

    Datasets and the code version are usually recorded on the pipeline run, while the
    model comes out of a step run: the parent chain is walked, the nearest record winning.

    Raises:
        RegistrationError: no run has this id.
    """
    run = session.get(RunRow, run_id)
    if run is None:
        raise RegistrationError(
            f"Cannot register with run {run_id!r}: no such run.",
            hint="Pass the id of a recorded run (see `conveyor runs list`) or omit run=.",
            run_id=run_id,
        )
    datasets: dict[str, dict[str, Any]] = {}
    code_version: Any = None
    current: RunRow | None = run
    for _ in range(_MAX_DEPTH):
        if current is None:
            break
        if code_version is None:
            code_version = current.code_version
        rows = session.scalars(select(RunDatasetRow).where(RunDatasetRow.run_id == current.id))
        for row in rows:
            datasets.setdefault(
                row.name,
                {"name": row.name, "version": row.version, "content_hash": row.content_hash},
            )
        current = session.get(RunRow, current.parent_id) if current.parent_id else None
    lineage = {
        "run_id": run.id,
        "code_version": code_version,
        "datasets": [datasets[name] for name in sorted(datasets)],
    }
    return lineage, latest_metrics(session, run.id)


def latest_metrics(session: Session, run_id: str) -> dict[str, float]:
    """The last logged value of each metric of a run (NaN stored as NULL comes back NaN)."""
    rows = session.execute(
        select(RunMetricRow.key, RunMetricRow.value)
        .where(RunMetricRow.run_id == run_id)
        .order_by(RunMetricRow.id)
    )
    return {key: float("nan") if value is None else float(value) for key, value in rows}


def dataset_profiles(session: Session, datasets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each lineage dataset with its row count and profile, when that version is recorded."""
    out: list[dict[str, Any]] = []
    for entry in datasets:
        row = session.scalars(
            select(DatasetVersionRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetRow.name == entry.get("name"))
            .where(DatasetVersionRow.version == entry.get("version"))
        ).first()
        out.append(
            {
                **entry,
                "row_count": None if row is None else row.row_count,
                "profile": None if row is None else row.profile,
            }
        )
    return out
