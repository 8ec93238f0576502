"""Lineage read straight from the metadata store: a run's datasets, code version, metrics,
and the dataset versions a model names as its training data.

The registry sits beside ``conveyor.tracking`` and ``conveyor.data`` (same layer), so it
reads their rows from the store instead of importing those packages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.core import validate_name
from conveyor.errors import InvalidNameError
from conveyor.registry._errors import RegistrationError
from conveyor.registry._refs import LATEST, MAX_VERSION, format_versions
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


def dataset_refs(refs: str | Sequence[str] | None) -> list[tuple[str, int | None]]:
    """Parse ``training_data=`` refs (``"orders@3"``, ``"orders@latest"``, ``"orders"``).

    Returns:
        ``(name, version)`` pairs; ``None`` means the newest version.

    Raises:
        RegistrationError: a ref is not ``NAME@VERSION`` with a valid name and number.
    """
    if refs is None:
        return []
    items = [refs] if isinstance(refs, str) else list(refs)
    out: list[tuple[str, int | None]] = []
    for ref in items:
        if not isinstance(ref, str):
            raise RegistrationError(
                f"training_data must name dataset versions such as 'orders@3', got {ref!r}.",
                hint="Pass training_data='NAME@VERSION' or a list of them.",
                ref=repr(ref),
            )
        name, _, selector = ref.partition("@")
        try:
            validate_name(name, kind="dataset name")
        except InvalidNameError as exc:
            raise RegistrationError(
                f"training_data {ref[:80]!r} does not name a dataset: {exc.message}",
                hint="Pass training_data='NAME@VERSION', e.g. 'orders@3'.",
                ref=ref[:80],
            ) from exc
        token = selector.strip().lower()
        if token in ("", LATEST):
            out.append((name, None))
        elif token.isascii() and token.isdigit() and len(token.lstrip("0")) <= 10:
            if not 1 <= int(token) <= MAX_VERSION:
                raise _bad_version(ref)
            out.append((name, int(token)))
        else:
            raise _bad_version(ref)
    return out


def _bad_version(ref: str) -> RegistrationError:
    return RegistrationError(
        f"training_data {ref[:80]!r} does not name a dataset version: versions are whole "
        f"numbers from 1 to {MAX_VERSION}, or 'latest'.",
        hint="See the versions with `conveyor data log NAME`.",
        ref=ref[:80],
    )


def training_datasets(
    session: Session, refs: Sequence[tuple[str, int | None]]
) -> list[dict[str, Any]]:
    """Lineage entries (name, version, content hash) of the dataset versions ``refs`` name.

    Raises:
        RegistrationError: a dataset or version is not recorded (the message lists them).
    """
    out: list[dict[str, Any]] = []
    for name, number in refs:
        query = (
            select(DatasetVersionRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(DatasetRow.name == name)
        )
        if number is not None:
            query = query.where(DatasetVersionRow.version == number)
        row = session.scalars(query.order_by(DatasetVersionRow.version.desc())).first()
        if row is None:
            known = list(
                session.scalars(
                    select(DatasetVersionRow.version)
                    .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                    .where(DatasetRow.name == name)
                    .order_by(DatasetVersionRow.version)
                )
            )
            wanted = f"{name}@{number if number is not None else LATEST}"
            raise RegistrationError(
                f"Cannot record training data {wanted}: "
                + (
                    f"dataset {name!r} has no such version (versions: {format_versions(known)})."
                    if known
                    else f"no dataset named {name!r} is recorded."
                ),
                hint="Add it with `conveyor data add NAME PATH`, or see `conveyor data list`.",
                ref=wanted,
            )
        out.append({"name": name, "version": row.version, "content_hash": row.content_hash})
    return out
