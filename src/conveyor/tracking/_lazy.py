"""Lazy runs: runs kept in memory until something needs them, then written in batches.

:class:`LazyRuns` is the part of :class:`~conveyor.tracking.RunTracker` that keeps lazy
runs (started ``lazy=True``) and the runs started in this process, and writes the finished
lazy runs in batches through :meth:`BaseRunRecords.record_finished_runs
<conveyor.tracking.BaseRunRecords.record_finished_runs>`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from conveyor.core import Actor
from conveyor.errors import ConveyorError
from conveyor.tracking._base import BaseRunRecords, FinishedRun, MetricValue
from conveyor.tracking._records import Run

#: Finished lazy runs are written once this many wait, or once the oldest waited this long
#: (checked as runs finish and on each heartbeat), and whenever anything else is written.
LAZY_BATCH_RUNS = 200
LAZY_BATCH_AGE_S = 1.0
#: How many runs started here keep their id and capture in memory (children skip a read).
_KNOWN_RUNS = 1024


class LazyRuns:
    """Lazy runs of :class:`~conveyor.tracking.RunTracker` (which sets the state below).

    ``_lazy`` holds the lazy runs started but not written, ``_finished`` the finished ones
    waiting for a batch, ``_known`` the code version and environment of runs started here,
    by id.
    """

    _records: BaseRunRecords
    _actor: Actor
    _lazy_lock: threading.RLock
    _lazy: dict[str, tuple[Run, str]]
    _finished: list[FinishedRun]
    _finished_ids: set[str]
    _finished_since: float
    _known: OrderedDict[str, tuple[Any, Any]]

    def _remember(self, run: Run) -> None:
        with self._lazy_lock:
            self._known[run.id] = (run.code_version, run.environment)
            while len(self._known) > _KNOWN_RUNS:
                self._known.popitem(last=False)

    def _materialize(self, run_id: str) -> None:
        """Write a lazy run that has not finished, because something needs it recorded."""
        if run_id not in self._lazy and run_id not in self._finished_ids:
            return
        with self._lazy_lock:
            entry = self._lazy.pop(run_id, None)
            if entry is not None:
                self._write_finished()
                self._records.create_run(self._actor, entry[0])
            elif run_id in self._finished_ids:
                self._write_finished()

    def _settle(self, run_id: str | None = None) -> None:
        """Write lazy runs before a read: ``run_id``'s, or every one when ``None``."""
        if run_id is not None:
            self._materialize(run_id)
            return
        if not (self._lazy or self._finished):
            return
        with self._lazy_lock:
            self._write_finished()
            for pending in list(self._lazy):
                self._materialize(pending)

    def _write_finished(self) -> None:
        """Write the finished lazy runs waiting for a batch.

        A batch refused for good (a :class:`ConveyorError`, e.g. a run it reused is gone)
        is written run by run instead, so one bad run does not hold back the others; the
        runs that cannot be written are dropped and the first error propagates. Any other
        failure (a lost connection) keeps the batch for the next attempt.
        """
        with self._lazy_lock:
            if not self._finished:
                return
            batch = self._finished
            failure: ConveyorError | None = None
            try:
                self._records.record_finished_runs(self._actor, batch)
            except ConveyorError:
                for entry in batch:
                    try:
                        self._records.record_finished_runs(self._actor, [entry])
                    except ConveyorError as exc:
                        failure = failure or exc
            self._finished = []
            self._finished_ids = set()
            if failure is not None:
                raise failure

    def _finish_lazy(
        self, run: Run, started_status: str, points: list[MetricValue], **ended: Any
    ) -> Run:
        tags = ended.pop("tags")
        outputs = tuple(ended.pop("outputs"))
        finished = replace(run, **ended)
        with self._lazy_lock:
            if not self._finished:
                self._finished_since = time.monotonic()
            self._finished.append(
                FinishedRun(finished, started_status, tuple(points), outputs, tags)
            )
            self._finished_ids.add(run.id)
            due = (
                len(self._finished) >= LAZY_BATCH_RUNS
                or time.monotonic() - self._finished_since >= LAZY_BATCH_AGE_S
            )
            if due:
                self._write_finished()
        return replace(finished, tags={**run.tags, **tags} if tags else run.tags)
