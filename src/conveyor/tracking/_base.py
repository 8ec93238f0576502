"""The interface of the run records: what a backend must keep for experiment tracking.

:class:`~conveyor.tracking.RunTracker` holds the rules (validation, id prefixes, capture of
the code version, metric buffering, run-tree naming, when a run is stale); a backend only
keeps what it is given and answers lookups. The reference search over runs held in
memory, :func:`search_run_list`, lives in :mod:`conveyor.tracking._memory_search` (and is
re-exported here).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from conveyor.core import Actor
from conveyor.tracking._memory_search import search_run_list as search_run_list  # noqa: PLC0414 - re-exported
from conveyor.tracking._records import MetricFilter, MetricPoint, OutputRecord, Run, RunPage

#: One metric value as logged: ``(key, value, step, logged at)``. ``value`` may be NaN or
#: infinite; ``step`` is ``None`` when none was given. A plain tuple (not a dataclass)
#: because thousands are buffered per second.
MetricValue = tuple[str, float, int | None, datetime]


@dataclass(frozen=True)
class FinishedRun:
    """A run recorded only once it ended, with everything it logged meanwhile.

    The tracker keeps short runs that nobody reads while they run (tuning trials, cached
    steps) in memory and hands them to :meth:`BaseRunRecords.record_finished_runs` in
    batches.

    Attributes:
        run: The run as it ended (final status, ``ended_at``, durations), with the tags
            it started with.
        started_status: The status it started with (``"running"``, or ``"cached"`` for a
            cached step).
        metrics: The metric values it logged, in logged order.
        outputs: Its outputs (a step's), as :meth:`BaseRunRecords.add_outputs` takes them.
        tags: The tags merged into ``run.tags`` when it finished, as
            :meth:`BaseRunRecords.finish_run` merges them.
    """

    run: Run
    started_status: str
    metrics: tuple[MetricValue, ...] = ()
    outputs: tuple[OutputRecord, ...] = ()
    tags: Mapping[str, Any] | None = None


class BaseRunRecords(abc.ABC):
    """Where runs live, with the metrics, parameters, datasets, outputs and files they log.

    A run is created once (:meth:`create_run`) and then changed only through the methods
    below; each write that changes a record is one atomic, audited change (the audit
    action is named on each method; ``run:<id>`` is its target) and is attributed to the
    given actor. Heartbeats are the exception: liveness, not a change of record, they are
    not audited.

    Values come back exactly as they were written: parameters, tags, code version and
    environment as the JSON objects given, metric values (NaN and infinities included)
    as floats, times timezone-aware in UTC. Inputs are validated by the tracker before
    they reach a backend (known kinds and statuses, JSON-able mappings, checked metric
    values), so a backend does not validate them again.

    Thread safety: an implementation may be shared by threads (the tracker's metric
    buffer writes from whichever thread flushes it).
    """

    # -- runs ------------------------------------------------------------------------

    def prepare_create(self) -> None:  # noqa: B027 - an optional hook, a no-op by default
        """Do now the one-time set-up a process's first :meth:`create_run` would do.

        The tracker calls it while ``git status`` runs for a new run, so that set-up and
        git overlap instead of adding up. It records nothing and may be called any number
        of times, from any thread; the default does nothing.
        """

    @abc.abstractmethod
    def create_run(self, actor: Actor, run: Run) -> None:
        """Record a new run exactly as given (audited as ``run.start``).

        The audit details are ``{"name", "kind", "parent_id", "status"}`` of the run.

        Raises:
            RunNotFoundError: ``run.parent_id`` names no run; nothing is recorded.
        """

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return the run with exactly this id.

        Raises:
            RunNotFoundError: no run has this id.
        """

    @abc.abstractmethod
    def runs_with_prefix(self, prefix: str, limit: int) -> list[Run]:
        """Return at most ``limit`` runs whose id starts with ``prefix``, ordered by id."""

    @abc.abstractmethod
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
        """Return the runs matching every given filter (``None`` matches anything).

        Args:
            kind: Only runs of this kind.
            parent_id: Only direct children of this run.
            status: Only runs with this status.
            pipeline_ref: Only runs of this pipeline (``"module:attr"``).
            cache_key: Only runs with this cache key.
            limit: At most this many runs (``None``: all of them).
            newest_first: Order by start time, newest first (else oldest first); runs
                started at the same time are ordered by id either way.
            top_level: Only runs without a parent (pipelines, studies, plain runs).
            offset: Matching runs to skip, in the order above (negative counts as 0).
        """

    @abc.abstractmethod
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
        """Return one page of the runs matching every given filter, and how many match.

        Filtering, ordering, paging and counting happen in the backend, so a page of a
        large history costs what the page holds, not what the history holds.

        Args:
            kinds: Only runs of these kinds (``None``: any kind; empty: none).
            status: Only runs with this status.
            name_contains: Only runs whose name contains this text, ignoring case (``%``
                and ``_`` are plain characters).
            pipeline_ref: Only runs of this pipeline (``"module:attr"``).
            parent_ids: Only direct children of these runs (``None``: any parent).
            sort: ``"started_at"``, ``"name"``, ``"status"``, ``"duration"`` (``wall_s``),
                ``"param:<key>"`` (numbers by value, before text by its JSON form) or
                ``"metric:<key>"``: the value last logged under ``key`` by the run or
                one of its step runs (a cached step counts with the run it reused). Runs
                without a value sort last in either direction; ties go by id.
            descending: Largest (newest) first.
            offset: Matching runs to skip (negative counts as 0).
            limit: The most runs returned (negative counts as 0).
            where: Only runs whose metrics pass every one of these filters; the value a
                filter compares is the one ``"metric:<key>"`` sorts by (a run without
                one, or with NaN, is left out).
            top_level: Only runs without a parent (pipelines, studies, plain runs).

        Returns:
            The page, with ``total`` the number of runs matching the filters.

        Raises:
            ValueError: ``sort`` is not one of the orders above.
        """

    @abc.abstractmethod
    def dataset_runs(
        self, name: str, versions: Collection[int], *, limit: int = 20
    ) -> dict[int, list[Run]]:
        """Return the runs that used each of these versions of dataset ``name``.

        Returns:
            ``{version: [run, ...]}`` with an entry (maybe empty) for every version given,
            each list newest first and at most ``limit`` long.
        """

    @abc.abstractmethod
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
        """Record how a run ended, in one atomic change (audited as ``run.finish``).

        Sets ``status``, ``ended_at``, ``error``, ``wall_s``, ``cpu_s``, ``peak_rss_mb`` and
        ``cached_from``
        (each replacing what was there, ``None`` included), merges ``tags`` into the run's
        tags (a key given replaces the old value), and records ``outputs`` as
        :meth:`add_outputs` does. The audit details are ``{"status", "cached_from"}``,
        plus ``"tags"`` when tags were given and ``"outputs"`` (``{name: hash}``) when
        outputs were.

        Returns:
            The run as it is now.

        Raises:
            RunNotFoundError: no run has this id; nothing is recorded.
        """

    def record_finished_runs(self, actor: Actor, runs: Sequence[FinishedRun]) -> None:
        """Record runs that already ended, with their metrics and outputs.

        The result is what :meth:`create_run`, :meth:`log_metrics` and :meth:`finish_run`
        called in turn for each run would leave. This default does exactly that (one
        audited change each); a backend may instead record the whole batch in one atomic
        change audited as one ``run.record`` event whose details list the runs
        (``{"runs": {id: {"name", "kind", "parent_id", "status", "cached_from",
        "metrics"}}}``), as :class:`SqlRunRecords` does.

        Raises:
            RunNotFoundError: a run's parent (or the run it reused) does not exist.
        """
        for entry in runs:
            run = entry.run
            self.create_run(
                actor,
                replace(
                    run,
                    status=entry.started_status,
                    cached_from=None,
                    error=None,
                    ended_at=None,
                    wall_s=None,
                    cpu_s=None,
                    peak_rss_mb=None,
                ),
            )
            if entry.metrics:
                self.log_metrics(actor, run.id, entry.metrics)
            assert run.ended_at is not None  # a finished run has ended
            self.finish_run(
                actor,
                run.id,
                status=run.status,
                ended_at=run.ended_at,
                error=run.error,
                wall_s=run.wall_s,
                cpu_s=run.cpu_s,
                cached_from=run.cached_from,
                tags=entry.tags,
                outputs=entry.outputs,
                peak_rss_mb=run.peak_rss_mb,
            )

    @abc.abstractmethod
    def resume_run(self, actor: Actor, run_id: str, *, at: datetime, host: str, pid: int) -> Run:
        """Set a run back to ``running`` (audited as ``run.resume``, no details).

        Clears ``error`` and ``ended_at``, sets ``heartbeat_at`` to ``at`` and records the
        ``host`` and ``pid`` now running it.

        Returns:
            The run as it is now.

        Raises:
            RunNotFoundError: no run has this id; nothing is recorded.
        """

    @abc.abstractmethod
    def heartbeat(self, run_id: str, at: datetime) -> None:
        """Set the run's ``heartbeat_at`` to ``at`` (not audited).

        Does nothing when no run has this id: a heartbeat never fails the run it keeps
        alive.
        """

    @abc.abstractmethod
    def reap_stale(self, actor: Actor, *, cutoff: datetime, at: datetime) -> list[str]:
        """Fail every live run last seen before ``cutoff``, atomically; return their ids.

        Live runs are those ``running`` or ``pending``; which are stale is decided by
        :func:`conveyor.tracking.stale_runs` over all of them, inside the change, so a run
        that beats meanwhile is not reaped. Each stale run gets status ``failed``,
        ``ended_at`` set to ``at`` and the error of
        :func:`conveyor.tracking.stale_runs`. Audited as one ``run.reap`` event (target
        ``runs``, details ``{"runs": [ids]}``) when any run is reaped; nothing is written
        (and nothing audited) when none is.

        Returns:
            The ids of the runs reaped, in no particular order; empty when none was.
        """

    # -- what runs log ---------------------------------------------------------------

    @abc.abstractmethod
    def merge_params(self, actor: Actor, run_id: str, params: Mapping[str, Any]) -> Run:
        """Merge ``params`` into the run's parameters (audited as ``run.params``).

        A key given replaces the old value; other keys stay. The audit details are
        ``{"keys": sorted keys given}``.

        Returns:
            The run as it is now.

        Raises:
            RunNotFoundError: no run has this id; nothing is recorded.
        """

    @abc.abstractmethod
    def log_metrics(self, actor: Actor, run_id: str, batch: Sequence[MetricValue]) -> None:
        """Append a batch of metric values to a run, atomically (audited as ``run.metrics``).

        One call is one write (and one audit event, details ``{"count": len(batch)}``)
        however many values it holds: the tracker buffers values and sends one batch per
        run per flush. Values are kept in batch order after every value logged before.

        Raises:
            RunNotFoundError: no run has this id; no value of the batch is kept.
        """

    @abc.abstractmethod
    def metrics(self, run_id: str, key: str | None = None) -> list[MetricPoint]:
        """Return every value logged by a run (only ``key``'s when given), in logged order.

        Empty when the run logged nothing (or does not exist).
        """

    @abc.abstractmethod
    def latest_metrics(self, run_ids: Collection[str]) -> dict[str, dict[str, MetricPoint]]:
        """Return the last value logged for each key of each run.

        Returns:
            ``{run id: {key: last point}}`` with an entry (maybe empty) for every id given.
        """

    @abc.abstractmethod
    def add_dataset(
        self, actor: Actor, run_id: str, *, name: str, version: int, content_hash: str
    ) -> None:
        """Record that a run used version ``version`` of dataset ``name`` (``run.dataset``).

        One record per dataset name: recording the same name again replaces the version
        and hash. The audit details are ``{"dataset": "name@version"}``.

        Raises:
            RunNotFoundError: no run has this id; nothing is recorded.
        """

    @abc.abstractmethod
    def datasets(self, run_id: str) -> list[dict[str, Any]]:
        """Return the datasets a run used: ``{"name", "version", "content_hash"}``, by name."""

    @abc.abstractmethod
    def add_outputs(self, actor: Actor, run_id: str, outputs: Sequence[OutputRecord]) -> None:
        """Record a step run's outputs (audited as ``run.outputs``).

        One record per output name (recording a name again replaces it). Each output's
        hash is also kept as an artifact reference owned by ``run:<id>``, so garbage
        collection keeps the artifact. The audit details are ``{"outputs": {name: hash}}``.

        Raises:
            RunNotFoundError: no run has this id; nothing is recorded.
        """

    @abc.abstractmethod
    def outputs(self, run_id: str) -> list[OutputRecord]:
        """Return the recorded outputs of a run, in no particular order."""

    def cached_candidates(self, cache_key: str) -> list[tuple[Run, list[OutputRecord]]]:
        """The completed runs with this cache key, newest first, each with its outputs.

        What a pipeline asks for each step that may be a cache hit; this default is
        :meth:`list_runs` then :meth:`outputs` per run, a backend may answer in one read.
        """
        runs = self.list_runs(cache_key=cache_key, status="completed")
        return [(run, self.outputs(run.id)) for run in runs]

    @abc.abstractmethod
    def add_artifact(
        self, actor: Actor, run_id: str, *, name: str, hash: str, size: int, media_type: str
    ) -> None:
        """Record a file logged by a run under ``name`` (audited as ``run.artifact``).

        One record per name (logging a name again replaces it). The hash is also kept as
        an artifact reference owned by ``run:<id>``. The audit details are
        ``{"name", "hash"}``.

        Raises:
            RunNotFoundError: no run has this id; nothing is recorded.
        """

    @abc.abstractmethod
    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        """Return the files a run logged: ``{"name", "hash", "size", "media_type"}``, by name."""
