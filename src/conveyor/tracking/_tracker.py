"""RunTracker: records runs, metrics, params, datasets, outputs and logged files."""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import mimetypes
import os
import socket
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from conveyor.artifacts import ArtifactStore, ObjectInfo
from conveyor.config import RunsConfig
from conveyor.core import Actor, utcnow
from conveyor.errors import ConveyorError
from conveyor.store import MetadataStore
from conveyor.tracking._base import BaseRunRecords, MetricValue
from conveyor.tracking._buffer import MetricBuffer
from conveyor.tracking._capture import capture_code_version, capture_environment
from conveyor.tracking._compare import RunComparison, compare_runs
from conveyor.tracking._queries import RunQueries
from conveyor.tracking._records import RUN_KINDS, RUN_STATUSES, OutputRecord, Run
from conveyor.tracking._sql import SqlRunRecords


class RunTracker(RunQueries):
    """Records runs and everything they log, through run records (the metadata store).

    Every change of record is one audited write (``run.start``, ``run.finish``,
    ``run.params``...). Metric values are buffered in memory and written in batches (one
    :meth:`BaseRunRecords.log_metrics` call, so one insert and one ``run.metrics`` event,
    per run per batch), so logging one value costs microseconds; :meth:`finish_run` always
    flushes the run first and buffered values are also flushed when the process exits
    normally. Safe to share between threads.

    Args:
        store: The metadata store (holding the records unless ``records`` is given;
            ``None`` then).
        artifacts: The artifact store holding logged files and step outputs.
        actor: Who the records are attributed to.
        root: The project root (where the git code version is read).
        heartbeat_timeout_s: How long a live run may go without a heartbeat before
            :meth:`reap_stale` fails it (setting ``runs.heartbeat_timeout_s``; default its
            default, 60 seconds).
        records: Where runs are kept (default: :class:`SqlRunRecords` over ``store``).

    Raises:
        TypeError: Neither ``store`` nor ``records`` is given.

    Example:
        >>> run = ws.runs.start_run("training", kind="pipeline")  # doctest: +SKIP
        >>> ws.runs.log_metric(run.id, "loss", 0.3, step=1)  # doctest: +SKIP
        >>> ws.runs.finish_run(run.id, "completed").status  # doctest: +SKIP
        'completed'
    """

    def __init__(
        self,
        store: MetadataStore | None,
        artifacts: ArtifactStore,
        *,
        actor: Actor,
        root: Path,
        heartbeat_timeout_s: float | None = None,
        records: BaseRunRecords | None = None,
    ) -> None:
        if records is None:
            if store is None:
                raise TypeError("RunTracker needs a metadata store or records=; got neither.")
            records = SqlRunRecords(store)
        self._records = records
        self._artifacts = artifacts
        self._actor = actor
        self.root = Path(root)
        self.heartbeat_timeout_s = _timeout(heartbeat_timeout_s)
        self._buffer = MetricBuffer(self._write_metrics)
        # Flush at exit without keeping the tracker alive.
        ref = weakref.ref(self)
        atexit.register(_flush_at_exit, ref)

    @property
    def records(self) -> BaseRunRecords:
        """The run records this tracker reads and writes."""
        return self._records

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
        run = Run(
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
        self._records.create_run(self._actor, run)
        return run

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
        peak_rss_mb: float | None = None,
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
            peak_rss_mb: The high-water mark of the resident memory of the process that
                ran it, in MiB (``ru_maxrss``; see :func:`conveyor.core.peak_rss_mb`).
        """
        _check_choice("status", status, RUN_STATUSES)
        self._buffer.flush(run_id)
        return self._records.finish_run(
            self._actor,
            run_id,
            status=status,
            ended_at=utcnow(),
            error=error,
            wall_s=wall_s,
            cpu_s=cpu_s,
            cached_from=cached_from,
            tags=tags,
            outputs=_clean_outputs(outputs or ()),
            peak_rss_mb=peak_rss_mb,
        )

    def resume_run(self, run_id: str) -> Run:
        """Set a finished run back to ``running`` (``run.resume``), e.g. to resume it."""
        return self._records.resume_run(
            self._actor, run_id, at=utcnow(), host=socket.gethostname(), pid=os.getpid()
        )

    def heartbeat(self, run_id: str) -> None:
        """Mark the run alive now.

        Not audited: a heartbeat is liveness information, not a change of record, and
        auditing one every few seconds would bury the real events.
        """
        self._records.heartbeat(run_id, utcnow())

    def reap_stale(self, timeout_s: float | None = None) -> list[str]:
        """Mark runs whose process died as failed; return their ids.

        A running (or pending) run is stale when neither it nor a live ancestor showed a
        heartbeat (or started) within ``timeout_s``: steps inherit their pipeline's
        heartbeat. Audited as one ``run.reap`` event when anything is reaped.

        Args:
            timeout_s: Default :attr:`heartbeat_timeout_s` (the ``runs.heartbeat_timeout_s``
                setting).
        """
        timeout = self.heartbeat_timeout_s if timeout_s is None else timeout_s
        now = utcnow()
        return self._records.reap_stale(
            self._actor, cutoff=now - timedelta(seconds=timeout), at=now
        )

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

    def _write_metrics(self, run_id: str, batch: list[MetricValue]) -> None:
        self._records.log_metrics(self._actor, run_id, batch)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> Run:
        """Merge JSON-able ``params`` into the run's parameters (``run.params``)."""
        return self._records.merge_params(self._actor, run_id, _jsonable("params", params))

    def log_artifact(
        self, run_id: str, path: str | os.PathLike[str], name: str | None = None
    ) -> ObjectInfo:
        """Store a file and record it on the run under ``name`` (default: its file name)."""
        source = Path(path)
        info = self._artifacts.put_file(source)
        self._records.add_artifact(
            self._actor,
            run_id,
            name=name or source.name,
            hash=info.hash,
            size=info.size,
            media_type=mimetypes.guess_type(source.name)[0] or "application/octet-stream",
        )
        return info

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        """Files logged by a run: ``{"name", "hash", "size", "media_type"}``, by name."""
        return self._records.artifacts(run_id)

    def record_dataset(self, run_id: str, name: str, version: int, content_hash: str) -> None:
        """Record that the run used ``name@version`` (``run.dataset``)."""
        self._records.add_dataset(
            self._actor, run_id, name=name, version=version, content_hash=content_hash
        )

    def datasets(self, run_id: str) -> list[dict[str, Any]]:
        """Datasets a run used: ``{"name", "version", "content_hash"}``, by name."""
        return self._records.datasets(run_id)

    def record_outputs(self, run_id: str, outputs: list[OutputRecord]) -> None:
        """Record a step run's outputs, each also an artifact reference owned by the run."""
        self._records.add_outputs(self._actor, run_id, _clean_outputs(outputs))

    # -- comparison ------------------------------------------------------------------

    def compare(self, first: str, second: str) -> RunComparison:
        """Compare two runs: their parameters, latest metrics and metric histories.

        A pipeline run's metrics are those of its run tree (its steps' values, named as
        :meth:`run_tree_metrics` names them).

        Args:
            first: The first run (id or unique prefix), the baseline of each delta.
            second: The second run.

        Returns:
            The comparison.

        Raises:
            RunNotFoundError: either run does not exist.
            AmbiguousRunError: either prefix matches several runs.

        Example:
            >>> diff = ws.runs.compare("3f2a9c", "8b41d0")  # doctest: +SKIP
            >>> diff.changed_params, diff.metrics["accuracy"].delta  # doctest: +SKIP
            (['lr'], 0.012)
        """
        runs = (self.get(first), self.get(second))
        return compare_runs(
            runs,
            latest=[{key: m.value for key, m in self.run_tree_metrics(r.id).items()} for r in runs],
            history=[self.run_tree_history(r.id) for r in runs],
        )


def _timeout(value: float | None) -> float:
    if value is None:
        return RunsConfig().heartbeat_timeout_s
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConveyorError(
            f"Heartbeat timeout {value!r} is not a positive number of seconds.",
            hint="Pass a number of seconds > 0 (setting runs.heartbeat_timeout_s).",
            heartbeat_timeout_s=repr(value),
        )
    return float(value)


def _clean_outputs(outputs: Sequence[OutputRecord]) -> list[OutputRecord]:
    return [replace(out, meta=_jsonable("meta", out.meta)) for out in outputs]


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
