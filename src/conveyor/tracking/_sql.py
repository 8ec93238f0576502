"""The run records in the metadata store (SQLite or PostgreSQL), through SQLAlchemy."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.orm import Session

from conveyor.core import Actor
from conveyor.store import MetadataStore, WriteTx
from conveyor.store._tracking_models import (
    RunArtifactRow,
    RunDatasetRow,
    RunMetricRow,
    RunOutputRow,
    RunRow,
)
from conveyor.tracking._base import BaseRunRecords, FinishedRun, MetricValue
from conveyor.tracking._heartbeat import stale_runs
from conveyor.tracking._records import (
    MetricFilter,
    MetricPoint,
    OutputRecord,
    Run,
    RunExistsError,
    RunNotFoundError,
    RunPage,
)
from conveyor.tracking._sql_search import (
    RUN_FIELDS,
    dataset_runs,
    output_of,
    point_of,
    run_of,
    search_runs,
)

_LIVE_STATUSES = ("running", "pending")


class SqlRunRecords(BaseRunRecords):
    """Run records in the tables of :mod:`conveyor.store` (``runs``, ``run_metrics``...).

    Each audited change is one :meth:`~conveyor.store.MetadataStore.transact` (or
    ``write``), so it commits together with its audit event. A metric batch is one
    multi-row insert. NaN metric values are stored as NULL (SQLite cannot keep NaN) and
    come back as NaN.

    Args:
        store: The metadata store holding the tables.
    """

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    # -- runs ------------------------------------------------------------------------

    def prepare_create(self) -> None:
        """Configure the ORM mappers (the first query of a process does it otherwise)."""
        RunRow.__mapper__.registry.configure()

    def create_run(self, actor: Actor, run: Run) -> None:
        details = {
            "name": run.name,
            "kind": run.kind,
            "parent_id": run.parent_id,
            "status": run.status,
        }
        with self._store.write(actor, "run.start", f"run:{run.id}", details) as tx:
            if not run.id or tx.session.get(RunRow, run.id) is not None:
                raise RunExistsError(
                    f"A run with id {run.id!r} is already recorded."
                    if run.id
                    else "A run needs a non-empty id.",
                    hint="Create each run with a new id (conveyor generates one).",
                    run_id=run.id,
                )
            if run.parent_id is not None:
                _row(tx.session, run.parent_id)
            if run.cached_from is not None:  # a run can only reuse one that exists
                _row(tx.session, run.cached_from)
            tx.session.add(RunRow(**{name: getattr(run, name) for name in RUN_FIELDS}))

    def get_run(self, run_id: str) -> Run:
        with self._store.read() as session:
            return run_of(_row(session, run_id))

    def runs_with_prefix(self, prefix: str, limit: int) -> list[Run]:
        query = select(RunRow).where(RunRow.id.startswith(prefix, autoescape=True))
        with self._store.read() as session:
            rows = session.scalars(query.order_by(RunRow.id).limit(max(limit, 0)))
            return [run_of(row) for row in rows]

    def list_runs(
        self,
        *,
        kind: str | None = None,
        parent_id: str | None = None,
        status: str | None = None,
        pipeline_ref: str | None = None,
        cache_key: str | None = None,
        limit: int | None = None,
        newest_first: bool = True,
        top_level: bool = False,
        offset: int = 0,
    ) -> list[Run]:
        query = select(RunRow)
        if top_level:
            query = query.where(RunRow.parent_id.is_(None))
        for column, value in (
            (RunRow.kind, kind),
            (RunRow.parent_id, parent_id),
            (RunRow.status, status),
            (RunRow.pipeline_ref, pipeline_ref),
            (RunRow.cache_key, cache_key),
        ):
            if value is not None:
                query = query.where(column == value)
        started = RunRow.started_at.desc() if newest_first else RunRow.started_at
        query = query.order_by(started, RunRow.id)
        if offset > 0:
            query = query.offset(offset)
        if limit is not None:
            query = query.limit(max(limit, 0))
        with self._store.read() as session:
            return [run_of(row) for row in session.scalars(query)]

    def search_runs(
        self,
        *,
        kinds: Collection[str] | None = None,
        status: str | None = None,
        name_contains: str | None = None,
        pipeline_ref: str | None = None,
        parent_ids: Collection[str] | None = None,
        sort: str = "started_at",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
        where: Sequence[MetricFilter] = (),
        top_level: bool = False,
    ) -> RunPage:
        return search_runs(
            self._store,
            kinds=kinds,
            status=status,
            name_contains=name_contains,
            pipeline_ref=pipeline_ref,
            parent_ids=parent_ids,
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
            where=where,
            top_level=top_level,
        )

    def dataset_runs(
        self, name: str, versions: Collection[int], *, limit: int = 20
    ) -> dict[int, list[Run]]:
        return dataset_runs(self._store, name, versions, limit=limit)

    def finish_run(
        self,
        actor: Actor,
        run_id: str,
        *,
        status: str,
        ended_at: datetime,
        error: str | None = None,
        wall_s: float | None = None,
        cpu_s: float | None = None,
        cached_from: str | None = None,
        tags: Mapping[str, Any] | None = None,
        outputs: Sequence[OutputRecord] = (),
        peak_rss_mb: float | None = None,
    ) -> Run:
        extra = dict(tags or {})
        details: dict[str, Any] = {"status": status, "cached_from": cached_from}
        if extra:
            details["tags"] = extra
        if outputs:
            details["outputs"] = {out.name: out.hash for out in outputs}

        def body(tx: WriteTx) -> Run:
            row = _row(tx.session, run_id)
            row.status = status
            row.error = error
            row.ended_at = ended_at
            row.wall_s = wall_s
            row.cpu_s = cpu_s
            row.peak_rss_mb = peak_rss_mb
            row.cached_from = cached_from
            if extra:
                row.tags = {**(row.tags or {}), **extra}
            if outputs:
                _write_outputs(tx, run_id, outputs)
            return run_of(row)

        return self._store.transact(actor, "run.finish", f"run:{run_id}", body, details=details)

    def record_finished_runs(self, actor: Actor, runs: Sequence[FinishedRun]) -> None:
        """Record the whole batch in one transaction, audited as one ``run.record`` event."""
        if not runs:
            return
        ids = {entry.run.id for entry in runs}
        listed: dict[str, Any] = {}
        for entry in runs:
            run = entry.run
            listed[run.id] = {
                "name": run.name,
                "kind": run.kind,
                "parent_id": run.parent_id,
                "status": run.status,
                "cached_from": run.cached_from,
                "metrics": len(entry.metrics),
            }
        target = f"run:{runs[0].run.id}" if len(runs) == 1 else "runs"
        with self._store.write(actor, "run.record", target, {"runs": listed}) as tx:
            needed = {
                other
                for entry in runs
                for other in (entry.run.parent_id, entry.run.cached_from)
                if other is not None and other not in ids
            }
            if needed:
                found = set(tx.session.scalars(select(RunRow.id).where(RunRow.id.in_(needed))))
                for missing in sorted(needed - found):
                    _row(tx.session, missing)  # raises RunNotFoundError
            rows: list[dict[str, Any]] = []
            for entry in runs:
                values = {name: getattr(entry.run, name) for name in RUN_FIELDS}
                if entry.tags:
                    values["tags"] = {**entry.run.tags, **entry.tags}
                tx.session.add(RunRow(**values))
                rows.extend(
                    {
                        "run_id": entry.run.id,
                        "key": key,
                        "value": None if math.isnan(value) else value,
                        "step": step,
                        "at": at,
                    }
                    for key, value, step, at in entry.metrics
                )
            tx.session.flush()
            if rows:
                tx.session.execute(insert(RunMetricRow), rows)
            for entry in runs:
                if entry.outputs:
                    _write_outputs(tx, entry.run.id, entry.outputs, new=True)

    def resume_run(self, actor: Actor, run_id: str, *, at: datetime, host: str, pid: int) -> Run:
        def body(tx: WriteTx) -> Run:
            row = _row(tx.session, run_id)
            row.status = "running"
            row.error = None
            row.ended_at = None
            row.heartbeat_at = at
            row.host = host
            row.pid = pid
            return run_of(row)

        return self._store.transact(actor, "run.resume", f"run:{run_id}", body)

    def heartbeat(self, run_id: str, at: datetime) -> None:
        # A plain UPDATE outside the audited writer: liveness is not a change of record.
        with self._store.engine.begin() as conn:
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat_at=at))

    def reap_stale(self, actor: Actor, *, cutoff: datetime, at: datetime) -> list[str]:
        query = select(RunRow).where(RunRow.status.in_(_LIVE_STATUSES))
        # Look first without the writer lock: listing runs reaps, and usually nothing is stale.
        with self._store.read() as session:
            if not stale_runs([run_of(row) for row in session.scalars(query)], cutoff):
                return []

        def body(tx: WriteTx) -> list[str]:
            rows = {row.id: row for row in tx.session.scalars(query)}
            stale = stale_runs([run_of(row) for row in rows.values()], cutoff)
            for run_id, error in stale.items():
                row = rows[run_id]
                row.status = "failed"
                row.ended_at = at
                row.error = error
            tx.details["runs"] = list(stale)
            return list(stale)

        return self._store.transact(actor, "run.reap", "runs", body)

    # -- what runs log ---------------------------------------------------------------

    def merge_params(self, actor: Actor, run_id: str, params: Mapping[str, Any]) -> Run:
        clean = dict(params)

        def body(tx: WriteTx) -> Run:
            row = _row(tx.session, run_id)
            row.params = {**row.params, **clean}
            return run_of(row)

        return self._store.transact(
            actor, "run.params", f"run:{run_id}", body, details={"keys": sorted(clean)}
        )

    def log_metrics(self, actor: Actor, run_id: str, batch: Sequence[MetricValue]) -> None:
        isnan = math.isnan
        rows = [
            # NULL stands for NaN: SQLite cannot keep NaN.
            {"run_id": run_id, "key": k, "value": None if isnan(v) else v, "step": s, "at": a}
            for k, v, s, a in batch
        ]
        try:
            with self._store.write(
                actor, "run.metrics", f"run:{run_id}", {"count": len(rows)}
            ) as tx:
                tx.session.execute(insert(RunMetricRow), rows)
        except SQLIntegrityError as exc:
            raise RunNotFoundError(
                f"{len(rows)} metric value(s) for run {run_id!r} were not saved: no such run.",
                hint="Log metrics inside a run started with start_run.",
                run_id=run_id,
            ) from exc

    def metrics(self, run_id: str, key: str | None = None) -> list[MetricPoint]:
        query = select(RunMetricRow).where(RunMetricRow.run_id == run_id)
        if key is not None:
            query = query.where(RunMetricRow.key == key)
        with self._store.read() as session:
            return [point_of(row) for row in session.scalars(query.order_by(RunMetricRow.id))]

    def latest_metrics(self, run_ids: Collection[str]) -> dict[str, dict[str, MetricPoint]]:
        ids = set(run_ids)
        latest: dict[str, dict[str, MetricPoint]] = {run_id: {} for run_id in ids}
        if not ids:
            return latest
        last = (
            select(func.max(RunMetricRow.id))
            .where(RunMetricRow.run_id.in_(ids))
            .group_by(RunMetricRow.run_id, RunMetricRow.key)
        )
        query = select(RunMetricRow).where(RunMetricRow.id.in_(last))
        with self._store.read() as session:
            for row in session.scalars(query):
                latest[row.run_id][row.key] = point_of(row)
        return latest

    def add_dataset(
        self, actor: Actor, run_id: str, *, name: str, version: int, content_hash: str
    ) -> None:
        def body(tx: WriteTx) -> None:
            _row(tx.session, run_id)
            tx.session.merge(
                RunDatasetRow(run_id=run_id, name=name, version=version, content_hash=content_hash)
            )

        self._store.transact(
            actor,
            "run.dataset",
            f"run:{run_id}",
            body,
            details={"dataset": f"{name}@{version}"},
        )

    def datasets(self, run_id: str) -> list[dict[str, Any]]:
        query = select(RunDatasetRow).where(RunDatasetRow.run_id == run_id)
        with self._store.read() as session:
            rows = session.scalars(query.order_by(RunDatasetRow.name))
            return [
                {"name": r.name, "version": r.version, "content_hash": r.content_hash} for r in rows
            ]

    def add_outputs(self, actor: Actor, run_id: str, outputs: Sequence[OutputRecord]) -> None:
        def body(tx: WriteTx) -> None:
            _row(tx.session, run_id)
            _write_outputs(tx, run_id, outputs)

        self._store.transact(
            actor,
            "run.outputs",
            f"run:{run_id}",
            body,
            details={"outputs": {out.name: out.hash for out in outputs}},
        )

    def outputs(self, run_id: str) -> list[OutputRecord]:
        query = select(RunOutputRow).where(RunOutputRow.run_id == run_id)
        with self._store.read() as session:
            return [output_of(row) for row in session.scalars(query)]

    def cached_candidates(self, cache_key: str) -> list[tuple[Run, list[OutputRecord]]]:
        """One read: the runs, then the outputs of all of them."""
        query = (
            select(RunRow)
            .where(RunRow.cache_key == cache_key, RunRow.status == "completed")
            .order_by(RunRow.started_at.desc(), RunRow.id)
        )
        with self._store.read() as session:
            runs = [run_of(row) for row in session.scalars(query)]
            if not runs:
                return []
            outputs: dict[str, list[OutputRecord]] = {run.id: [] for run in runs}
            rows = session.scalars(select(RunOutputRow).where(RunOutputRow.run_id.in_(outputs)))
            for row in rows:
                outputs[row.run_id].append(output_of(row))
        return [(run, outputs[run.id]) for run in runs]

    def add_artifact(
        self, actor: Actor, run_id: str, *, name: str, hash: str, size: int, media_type: str
    ) -> None:
        def body(tx: WriteTx) -> None:
            _row(tx.session, run_id)
            tx.session.merge(
                RunArtifactRow(
                    run_id=run_id, name=name, hash=hash, size=size, media_type=media_type
                )
            )
            tx.reference(f"run:{run_id}", [hash], existing_ok=True)

        self._store.transact(
            actor,
            "run.artifact",
            f"run:{run_id}",
            body,
            details={"name": name, "hash": hash},
        )

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        query = select(RunArtifactRow).where(RunArtifactRow.run_id == run_id)
        with self._store.read() as session:
            rows = session.scalars(query.order_by(RunArtifactRow.name))
            return [
                {"name": r.name, "hash": r.hash, "size": r.size, "media_type": r.media_type}
                for r in rows
            ]


def _row(session: Session, run_id: str) -> RunRow:
    row = session.get(RunRow, run_id)
    if row is None:
        raise RunNotFoundError(
            f"No run has id {run_id!r}.",
            hint="List runs and their ids with `conveyor runs list`.",
            run_id=run_id,
        )
    return row


def _write_outputs(
    tx: WriteTx, run_id: str, outputs: Sequence[OutputRecord], *, new: bool = False
) -> None:
    """Record outputs and their artifact references (``new``: the run has none yet, so
    rows are added without first looking for existing ones)."""
    put = tx.session.add if new else tx.session.merge
    for out in outputs:
        put(
            RunOutputRow(
                run_id=run_id,
                name=out.name,
                hash=out.hash,
                materializer=out.materializer,
                materializer_version=out.materializer_version,
                type_name=out.type_name,
                size=out.size,
                meta=dict(out.meta),
            )
        )
    tx.reference(f"run:{run_id}", {out.hash for out in outputs}, existing_ok=not new)
