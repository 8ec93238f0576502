"""RunTracker: records runs, metrics, params, datasets, outputs and logged files."""

from __future__ import annotations

import atexit
import contextlib
import json
import mimetypes
import os
import socket
import uuid
import weakref
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from conveyor.artifacts import ArtifactStore, ObjectInfo
from conveyor.core import Actor, isoformat, utcnow
from conveyor.errors import ConveyorError
from conveyor.store import (
    ArtifactRefRow,
    MetadataStore,
    RunArtifactRow,
    RunDatasetRow,
    RunMetricRow,
    RunOutputRow,
    RunRow,
    WriteTx,
)
from conveyor.tracking._buffer import MetricBuffer, Point
from conveyor.tracking._capture import capture_code_version, capture_environment
from conveyor.tracking._queries import RunQueries
from conveyor.tracking._records import (
    RUN_KINDS,
    RUN_STATUSES,
    OutputRecord,
    Run,
    RunNotFoundError,
)

#: Environment variable overriding the default heartbeat timeout of :meth:`reap_stale`.
HEARTBEAT_TIMEOUT_ENV = "CONVEYOR_HEARTBEAT_TIMEOUT_S"
DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0
_LIVE_STATUSES = ("running", "pending")


class RunTracker(RunQueries):
    """Records runs and everything they log in the metadata store.

    Every change of record is one audited write (``run.start``, ``run.finish``,
    ``run.params``...). Metric values are buffered in memory and written in batches (one
    insert and one ``run.metrics`` event per run per batch), so logging one value costs
    microseconds; :meth:`finish_run` always flushes the run first and buffered values are
    also flushed when the process exits normally. Safe to share between threads.

    Args:
        store: The metadata store.
        artifacts: The artifact store holding logged files and step outputs.
        actor: Who the records are attributed to.
        root: The project root (where the git code version is read).
    """

    def __init__(
        self, store: MetadataStore, artifacts: ArtifactStore, *, actor: Actor, root: Path
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self._actor = actor
        self.root = Path(root)
        self._buffer = MetricBuffer(self._write_metrics)
        # Flush at exit without keeping the tracker alive.
        ref = weakref.ref(self)
        atexit.register(_flush_at_exit, ref)

    # -- lifecycle -------------------------------------------------------------------

    def start_run(
        self,
        name: str,
        *,
        kind: str,
        parent_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        pipeline_ref: str | None = None,
        executor: str | None = None,
        cache_key: str | None = None,
        status: str = "running",
        capture: bool = True,
    ) -> Run:
        """Record a new run and return it (audited as ``run.start``).

        Args:
            name: Pipeline, step, study or trial name.
            kind: ``"pipeline"``, ``"step"``, ``"tune"`` or ``"trial"``.
            parent_id: The pipeline or study run this one belongs to.
            params: JSON-able parameters.
            tags: JSON-able labels.
            pipeline_ref: ``"module:attr"`` of the pipeline.
            executor: Which executor runs it (``"local"``, ``"ray"``).
            cache_key: The step's cache key (64 hex characters).
            status: Initial status (``"pending"`` for steps not started yet).
            capture: Record the code version and environment. A child run copies them
                from its parent instead of asking git again.

        Raises:
            ConveyorError: an unknown kind or status, or params/tags that are not JSON-able.
            RunNotFoundError: ``parent_id`` names no run.
        """
        _check_choice("kind", kind, RUN_KINDS)
        _check_choice("status", status, RUN_STATUSES)
        clean_params = _jsonable("params", params)
        clean_tags = _jsonable("tags", tags)
        code_version: dict[str, Any] | None = None
        environment: dict[str, Any] | None = None
        if parent_id is not None:
            parent = self.get(parent_id)
            parent_id = parent.id
            if capture:
                code_version, environment = parent.code_version, parent.environment
        elif capture:
            code_version = capture_code_version(self.root)
            environment = capture_environment()
        now = utcnow()
        row = RunRow(
            id=uuid.uuid4().hex,
            name=name,
            kind=kind,
            parent_id=parent_id,
            status=status,
            pipeline_ref=pipeline_ref,
            params=clean_params,
            tags=clean_tags,
            code_version=code_version,
            environment=environment,
            executor=executor,
            cache_key=cache_key,
            cached_from=None,
            error=None,
            started_at=now,
            ended_at=None,
            heartbeat_at=now if status == "running" else None,
            host=socket.gethostname(),
            pid=os.getpid(),
            wall_s=None,
            cpu_s=None,
            created_by=self._actor.name,
        )
        details = {"name": name, "kind": kind, "parent_id": parent_id, "status": status}
        with self._store.write(self._actor, "run.start", f"run:{row.id}", details) as tx:
            tx.session.add(row)
        return Run.from_row(row)

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        wall_s: float | None = None,
        cpu_s: float | None = None,
        cached_from: str | None = None,
        tags: Mapping[str, Any] | None = None,
        outputs: list[OutputRecord] | None = None,
    ) -> Run:
        """Flush the run's buffered metrics, then record how it ended (``run.finish``).

        Args:
            run_id: The run.
            status: Final status, e.g. ``"completed"``, ``"failed"``, ``"cached"``.
            error: The traceback of a failed run.
            wall_s: Elapsed wall-clock seconds.
            cpu_s: CPU seconds.
            cached_from: The run whose outputs a cached run reused.
            tags: Merged into the run's tags in the same write (e.g. ``{"state": "pruned"}``).
            outputs: The step's outputs, recorded in the same transaction (saves a write
                per step compared with :meth:`record_outputs` first).
        """
        _check_choice("status", status, RUN_STATUSES)
        self._buffer.flush(run_id)
        extra = dict(tags or {})
        details: dict[str, Any] = {"status": status, "cached_from": cached_from}
        if extra:
            details["tags"] = extra
        if outputs:
            details["outputs"] = {out.name: out.hash for out in outputs}

        def body(tx: WriteTx) -> Run:
            row = self._row(tx, run_id)
            row.status = status
            row.error = error
            row.ended_at = utcnow()
            row.wall_s = wall_s
            row.cpu_s = cpu_s
            row.cached_from = cached_from
            if extra:
                row.tags = {**(row.tags or {}), **extra}
            if outputs:
                _write_outputs(tx, run_id, outputs)
            return Run.from_row(row)

        return self._store.transact(
            self._actor, "run.finish", f"run:{run_id}", body, details=details
        )

    def resume_run(self, run_id: str) -> Run:
        """Set a finished run back to ``running`` (``run.resume``), e.g. to resume it."""

        def body(tx: WriteTx) -> Run:
            row = self._row(tx, run_id)
            row.status = "running"
            row.error = None
            row.ended_at = None
            row.heartbeat_at = utcnow()
            row.host = socket.gethostname()
            row.pid = os.getpid()
            return Run.from_row(row)

        return self._store.transact(self._actor, "run.resume", f"run:{run_id}", body)

    def heartbeat(self, run_id: str) -> None:
        """Mark the run alive now.

        Not audited: a heartbeat is liveness information, not a change of record, and
        auditing one every few seconds would bury the real events.
        """
        with self._store.engine.begin() as conn:
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(heartbeat_at=utcnow()))

    def reap_stale(self, timeout_s: float | None = None) -> list[str]:
        """Mark runs whose process died as failed; return their ids.

        A running (or pending) run is stale when neither it nor a live ancestor showed a
        heartbeat (or started) within ``timeout_s``: steps inherit their pipeline's
        heartbeat. Audited as one ``run.reap`` event when anything is reaped.

        Args:
            timeout_s: Default ``CONVEYOR_HEARTBEAT_TIMEOUT_S`` or 60 seconds.
        """
        if timeout_s is None:
            timeout_s = float(os.environ.get(HEARTBEAT_TIMEOUT_ENV, DEFAULT_HEARTBEAT_TIMEOUT_S))
        if not self._stale_rows(timeout_s, None):
            return []

        def body(tx: WriteTx) -> list[str]:
            rows = self._stale_rows(timeout_s, tx)
            now = utcnow()
            for row in rows:
                seen = row.heartbeat_at or row.started_at
                row.status = "failed"
                row.ended_at = now
                row.error = (
                    f"process died: no heartbeat since {isoformat(seen)} "
                    f"(host {row.host}, pid {row.pid})"
                )
            tx.details["runs"] = [row.id for row in rows]
            return [row.id for row in rows]

        return self._store.transact(self._actor, "run.reap", "runs", body)

    def _stale_rows(self, timeout_s: float, tx: WriteTx | None) -> list[RunRow]:
        query = select(RunRow).where(RunRow.status.in_(_LIVE_STATUSES))
        if tx is None:
            with self._store.read() as session:
                live = {row.id: row for row in session.scalars(query)}
        else:
            live = {row.id: row for row in tx.session.scalars(query)}
        cutoff = utcnow() - timedelta(seconds=timeout_s)

        def last_seen(row: RunRow) -> Any:
            seen, visited = row.heartbeat_at or row.started_at, {row.id}
            while row.parent_id in live and row.parent_id not in visited:
                row = live[row.parent_id]
                visited.add(row.id)
                seen = max(seen, row.heartbeat_at or row.started_at)
            return seen

        return [row for row in live.values() if last_seen(row) < cutoff]

    # -- logging ---------------------------------------------------------------------

    def log_metric(self, run_id: str, key: str, value: float, step: int | None = None) -> None:
        """Buffer one metric value (NaN and infinities are kept as given).

        Raises:
            InvalidMetricError: the value is not a real number (bools and strings refused).
        """
        self._buffer.add(run_id, key, value, step)

    def log_metrics(
        self, run_id: str, values: Mapping[str, float], step: int | None = None
    ) -> None:
        """Buffer several metric values at one step."""
        self._buffer.add_many(run_id, values, step)

    def flush(self, run_id: str | None = None) -> int:
        """Write buffered metric values (of one run, or all); return how many."""
        return self._buffer.flush(run_id)

    def _write_metrics(self, run_id: str, batch: list[Point]) -> None:
        rows = [
            {"run_id": run_id, "key": key, "value": value, "step": step, "at": at}
            for key, value, step, at in batch
        ]
        try:
            with self._store.write(
                self._actor, "run.metrics", f"run:{run_id}", {"count": len(rows)}
            ) as tx:
                tx.session.execute(insert(RunMetricRow), rows)
        except SQLIntegrityError as exc:
            raise RunNotFoundError(
                f"{len(rows)} metric value(s) for run {run_id!r} were not saved: no such run.",
                hint="Log metrics inside a run started with start_run.",
                run_id=run_id,
            ) from exc

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> Run:
        """Merge JSON-able ``params`` into the run's parameters (``run.params``)."""
        clean = _jsonable("params", params)

        def body(tx: WriteTx) -> Run:
            row = self._row(tx, run_id)
            row.params = {**row.params, **clean}
            return Run.from_row(row)

        return self._store.transact(
            self._actor, "run.params", f"run:{run_id}", body, details={"keys": sorted(clean)}
        )

    def log_artifact(
        self, run_id: str, path: str | os.PathLike[str], name: str | None = None
    ) -> ObjectInfo:
        """Store a file and record it on the run under ``name`` (default: its file name)."""
        source = Path(path)
        info = self._artifacts.put_file(source)
        label = name or source.name
        media_type = mimetypes.guess_type(source.name)[0] or "application/octet-stream"

        def body(tx: WriteTx) -> None:
            self._row(tx, run_id)
            tx.session.merge(
                RunArtifactRow(
                    run_id=run_id,
                    name=label,
                    hash=info.hash,
                    size=info.size,
                    media_type=media_type,
                )
            )
            tx.session.merge(ArtifactRefRow(hash=info.hash, owner=f"run:{run_id}"))

        self._store.transact(
            self._actor,
            "run.artifact",
            f"run:{run_id}",
            body,
            details={"name": label, "hash": info.hash},
        )
        return info

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        """Files logged by a run: ``{"name", "hash", "size", "media_type"}``, by name."""
        query = select(RunArtifactRow).where(RunArtifactRow.run_id == run_id)
        with self._store.read() as session:
            rows = session.scalars(query.order_by(RunArtifactRow.name))
            return [
                {"name": r.name, "hash": r.hash, "size": r.size, "media_type": r.media_type}
                for r in rows
            ]

    def record_dataset(self, run_id: str, name: str, version: int, content_hash: str) -> None:
        """Record that the run used ``name@version`` (``run.dataset``)."""

        def body(tx: WriteTx) -> None:
            self._row(tx, run_id)
            tx.session.merge(
                RunDatasetRow(run_id=run_id, name=name, version=version, content_hash=content_hash)
            )

        self._store.transact(
            self._actor,
            "run.dataset",
            f"run:{run_id}",
            body,
            details={"dataset": f"{name}@{version}"},
        )

    def datasets(self, run_id: str) -> list[dict[str, Any]]:
        """Datasets a run used: ``{"name", "version", "content_hash"}``, by name."""
        query = select(RunDatasetRow).where(RunDatasetRow.run_id == run_id)
        with self._store.read() as session:
            rows = session.scalars(query.order_by(RunDatasetRow.name))
            return [
                {"name": r.name, "version": r.version, "content_hash": r.content_hash} for r in rows
            ]

    def record_outputs(self, run_id: str, outputs: list[OutputRecord]) -> None:
        """Record a step run's outputs, each also an artifact reference owned by the run."""

        def body(tx: WriteTx) -> None:
            self._row(tx, run_id)
            _write_outputs(tx, run_id, outputs)

        self._store.transact(
            self._actor,
            "run.outputs",
            f"run:{run_id}",
            body,
            details={"outputs": {out.name: out.hash for out in outputs}},
        )

    def _row(self, tx: WriteTx, run_id: str) -> RunRow:
        row = tx.session.get(RunRow, run_id)
        if row is None:
            raise RunNotFoundError(
                f"No run has id {run_id!r}.",
                hint="List runs and their ids with `conveyor runs list`.",
                run_id=run_id,
            )
        return row


def _write_outputs(tx: WriteTx, run_id: str, outputs: list[OutputRecord]) -> None:
    for out in outputs:
        tx.session.merge(
            RunOutputRow(
                run_id=run_id,
                name=out.name,
                hash=out.hash,
                materializer=out.materializer,
                materializer_version=out.materializer_version,
                type_name=out.type_name,
                size=out.size,
                meta=_jsonable("meta", out.meta),
            )
        )
    for digest in {out.hash for out in outputs}:
        tx.session.merge(ArtifactRefRow(hash=digest, owner=f"run:{run_id}"))


def _flush_at_exit(ref: weakref.ref[RunTracker]) -> None:
    tracker = ref()
    if tracker is not None:
        # The store may already be closed at exit; nothing can be reported then.
        with contextlib.suppress(Exception):
            tracker.flush()


def _check_choice(field: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise ConveyorError(
            f"Run {field} {value!r} is not one of {', '.join(sorted(allowed))}.",
            hint=f"Pass one of the listed {field} values.",
            field=field,
            value=value,
        )


def _jsonable(field: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ConveyorError(
            f"Run {field} {dict(value)!r} are not JSON-able: {exc}.",
            hint="Use strings, numbers, booleans, None, lists and dicts "
            "(convert other values with str(...)); NaN is not allowed.",
            field=field,
        ) from exc
