"""RunTracker: records runs, metrics, params, datasets, outputs and logged files.

Lazy runs (kept in memory, written in batches) are handled by :class:`LazyRuns` in
:mod:`conveyor.tracking._lazy`; the checks of what callers pass are in
:mod:`conveyor.tracking._validation`.
"""

from __future__ import annotations

import atexit
import contextlib
import mimetypes
import os
import socket
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from conveyor.artifacts import ArtifactStore, ObjectInfo
from conveyor.core import Actor, utcnow
from conveyor.store import MetadataStore
from conveyor.tracking._base import BaseRunRecords, FinishedRun, MetricValue
from conveyor.tracking._buffer import MetricBuffer
from conveyor.tracking._capture import capture_environment, probe_code_version
from conveyor.tracking._compare import RunComparison, compare_runs
from conveyor.tracking._lazy import LAZY_BATCH_AGE_S, LazyRuns
from conveyor.tracking._queries import RunQueries
from conveyor.tracking._records import RUN_KINDS, RUN_STATUSES, OutputRecord, Run
from conveyor.tracking._sql import SqlRunRecords
from conveyor.tracking._validation import check_choice, clean_outputs, heartbeat_timeout, jsonable


class RunTracker(LazyRuns, RunQueries):
    """Records runs and everything they log, through run records (the metadata store).

    Every change of record is one audited write (``run.start``, ``run.finish``,
    ``run.params``...). Metric values are buffered in memory and written in batches (one
    :meth:`BaseRunRecords.log_metrics` call, so one insert and one ``run.metrics`` event,
    per run per batch), so logging one value costs microseconds; :meth:`finish_run` always
    flushes the run first and buffered values are also flushed when the process exits
    normally. Safe to share between threads.

    Short runs nobody reads while they run (tuning trials, cached pipeline steps) may be
    started ``lazy``: such a run is written only when something needs it in the records
    (a metric batch, params, a file, a read of it) or, most often, once it finished,
    together with other finished lazy runs in one batch (see
    :meth:`BaseRunRecords.record_finished_runs`). A batch is written when it holds
    :data:`~conveyor.tracking._lazy.LAZY_BATCH_RUNS` runs, when its oldest run waited
    :data:`~conveyor.tracking._lazy.LAZY_BATCH_AGE_S` seconds, before any other write or
    read of this tracker, on :meth:`flush` and at exit.

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
        self.heartbeat_timeout_s = heartbeat_timeout(heartbeat_timeout_s)
        self._buffer = MetricBuffer(self._write_metrics)
        # Lazy runs: started but not written, and finished ones waiting for a batch.
        self._lazy_lock = threading.RLock()
        self._lazy: dict[str, tuple[Run, str]] = {}
        self._finished: list[FinishedRun] = []
        self._finished_ids: set[str] = set()
        self._finished_since = 0.0
        # Runs started here: a child's start needs neither a read nor a second capture.
        self._known: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        # Flush at exit without keeping the tracker alive.
        ref = weakref.ref(self)
        atexit.register(_flush_at_exit, ref)

    @property
    def records(self) -> BaseRunRecords:
        """The run records this tracker reads and writes (lazy runs written first)."""
        self._settle()
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
        lazy: bool = False,
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
            lazy: Keep the run in memory until something needs it written or it
                finished, then write it in a batch with other finished lazy runs (see
                the class docstring). For short child runs.

        Raises:
            ConveyorError: an unknown kind or status, or params/tags that are not JSON-able.
            RunNotFoundError: ``parent_id`` names no run.
        """
        check_choice("kind", kind, RUN_KINDS)
        check_choice("status", status, RUN_STATUSES)
        clean_params = jsonable("params", params)
        clean_tags = jsonable("tags", tags)
        code_version: dict[str, Any] | None = None
        environment: dict[str, Any] | None = None
        if parent_id is not None:
            self._materialize(parent_id)
            known = self._known.get(parent_id)
            if known is None:
                parent = self.get(parent_id)
                parent_id = parent.id
                known = (parent.code_version, parent.environment)
            if capture:
                code_version, environment = known
        elif capture:
            # git runs in its own process while this one reads the environment and does
            # the store's one-time set-up; its answer is waited for only then.
            probe = probe_code_version(self.root)
            try:
                environment = capture_environment(self._cache_dir())
                self._records.prepare_create()
            finally:  # always reap git, even when the set-up failed
                code_version = probe.result()
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
        if lazy:
            with self._lazy_lock:
                self._lazy[run.id] = (run, status)
        else:
            self._write_finished()
            self._records.create_run(self._actor, run)
            self._remember(run)
        return run

    def _cache_dir(self) -> Path | None:
        state = self.root / ".conveyor"
        return state if state.is_dir() else None

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
        check_choice("status", status, RUN_STATUSES)
        clean = clean_outputs(outputs or ())
        ended: dict[str, Any] = {
            "status": status,
            "ended_at": utcnow(),
            "error": error,
            "wall_s": wall_s,
            "cpu_s": cpu_s,
            "cached_from": cached_from,
            "tags": dict(tags) if tags else None,
            "outputs": clean,
            "peak_rss_mb": peak_rss_mb,
        }
        if run_id in self._lazy:
            taken: list[Run] = []

            def finish(points: list[MetricValue]) -> None:
                with self._lazy_lock:
                    entry = self._lazy.pop(run_id, None)
                    if entry is not None:
                        taken.append(self._finish_lazy(*entry, points, **ended))
                    elif points:  # written meanwhile: its values go the usual way
                        self._write_metrics(run_id, points)

            self._buffer.take(run_id, finish)
            if taken:
                return taken[0]
        self._write_finished()
        self._buffer.flush(run_id)
        return self._records.finish_run(self._actor, run_id, **ended)

    def resume_run(self, run_id: str) -> Run:
        """Set a finished run back to ``running`` (``run.resume``), e.g. to resume it."""
        self._write_finished()
        return self._records.resume_run(
            self._actor, run_id, at=utcnow(), host=socket.gethostname(), pid=os.getpid()
        )

    def heartbeat(self, run_id: str) -> None:
        """Mark the run alive now.

        Not audited: a heartbeat is liveness information, not a change of record, and
        auditing one every few seconds would bury the real events. Finished lazy runs
        that waited long enough are written now (heartbeats come every few seconds).
        """
        self._materialize(run_id)
        if self._finished and time.monotonic() - self._finished_since >= LAZY_BATCH_AGE_S:
            self._write_finished()
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
        self._write_finished()
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
        """Write buffered metric values (of one run, or all) and lazy runs; return how
        many metric values were written."""
        self._settle(run_id)
        return self._buffer.flush(run_id)

    def _write_metrics(self, run_id: str, batch: list[MetricValue]) -> None:
        self._materialize(run_id)
        self._records.log_metrics(self._actor, run_id, batch)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> Run:
        """Merge JSON-able ``params`` into the run's parameters (``run.params``)."""
        self._materialize(run_id)
        return self._records.merge_params(self._actor, run_id, jsonable("params", params))

    def log_artifact(
        self, run_id: str, path: str | os.PathLike[str], name: str | None = None
    ) -> ObjectInfo:
        """Store a file and record it on the run under ``name`` (default: its file name)."""
        source = Path(path)
        info = self._artifacts.put_file(source)
        self._materialize(run_id)
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
        self._materialize(run_id)
        self._records.add_dataset(
            self._actor, run_id, name=name, version=version, content_hash=content_hash
        )

    def datasets(self, run_id: str) -> list[dict[str, Any]]:
        """Datasets a run used: ``{"name", "version", "content_hash"}``, by name."""
        return self._records.datasets(run_id)

    def record_outputs(self, run_id: str, outputs: list[OutputRecord]) -> None:
        """Record a step run's outputs, each also an artifact reference owned by the run."""
        self._materialize(run_id)
        self._records.add_outputs(self._actor, run_id, clean_outputs(outputs))

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


def _flush_at_exit(ref: weakref.ref[RunTracker]) -> None:
    tracker = ref()
    if tracker is not None:
        # The store may already be closed at exit; nothing can be reported then.
        with contextlib.suppress(Exception):
            tracker.flush()
