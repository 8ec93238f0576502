"""What a prediction server process used: CPU, memory, wall and busy time, predictions.

The server counts each answered request in a :class:`UsageMeter` (a lock and a few
additions: nothing on the request path touches the database). A background thread writes
the totals every ``interval_s`` seconds, and :meth:`UsageMeter.close` writes them once more
at shutdown, as one :class:`ServingUsage` record per process and model version; each write
replaces the process's previous one, so a record always holds the totals since the process
started. ``conveyor cost`` turns them into a serving cost per 1,000 predictions.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from conveyor.core import Actor, peak_rss_mb, utcnow

_log = logging.getLogger("conveyor.predictions")


@dataclass(frozen=True)
class ServingUsage:
    """The resources one server process used for one model version, since it started.

    A process that serves several versions (a champion and a canary) splits its CPU seconds
    and wall seconds between them in proportion to the time each spent answering; its peak
    memory is shared (each record holds the process's).

    Attributes:
        process_id: The server process (a new id each time a server starts).
        model: Model name.
        version: Model version.
        environment: The environment served, or ``None`` for ``conveyor serve NAME@REF``.
        host: Host name of the process.
        pid: Its process id.
        started_at: When the process started counting (UTC).
        updated_at: When these totals were taken (UTC).
        wall_s: The version's share of the seconds the process has been up.
        busy_s: Seconds spent answering requests for the version.
        cpu_s: The version's share of the CPU seconds of the process.
        peak_rss_mb: High-water mark of the process's resident memory, in MiB.
        predictions: Rows predicted successfully.
        requests: Requests answered by the version (failed ones included).
    """

    process_id: str
    model: str
    version: int
    environment: str | None
    host: str
    pid: int
    started_at: datetime
    updated_at: datetime
    wall_s: float
    busy_s: float
    cpu_s: float
    peak_rss_mb: float
    predictions: int
    requests: int


class UsageWriter(Protocol):
    """Where a meter writes (``BasePredictionRecords``, or a list in tests)."""

    def record_usage(self, actor: Actor, usage: Sequence[ServingUsage]) -> None:
        """Store the records, replacing those of the same process and version."""


@dataclass
class _Counts:
    busy_s: float = 0.0
    predictions: int = 0
    requests: int = 0


class UsageMeter:
    """Counts what one server process serves, and writes it periodically and at shutdown.

    Thread safety: :meth:`observe` may be called from any thread (the event loop and
    worker threads); it takes one lock for a few additions and never raises or blocks on
    I/O. Writing failures are logged and retried at the next interval.

    Args:
        records: Where the totals are written.
        actor: Who signs the writes (the server's actor).
        environment: The environment served, if any.
        interval_s: Seconds between writes (``0`` or less: only at :meth:`flush`/:meth:`close`).
        cpu_clock: CPU seconds of the process (``time.process_time``).
        wall_clock: A monotonic clock (``time.perf_counter``).

    Example:
        >>> meter = UsageMeter(records, actor, environment="production")  # doctest: +SKIP
        >>> meter.start(); meter.observe("churn", 3, rows=1, seconds=0.002)  # doctest: +SKIP
        >>> meter.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        records: UsageWriter,
        actor: Actor,
        *,
        environment: str | None = None,
        interval_s: float = 30.0,
        cpu_clock: Callable[[], float] = time.process_time,
        wall_clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.records = records
        self.actor = actor
        self.environment = environment
        self.interval_s = interval_s
        self.process_id = uuid.uuid4().hex
        self.started_at = utcnow()
        self._cpu_clock = cpu_clock
        self._wall_clock = wall_clock
        self._cpu0 = cpu_clock()
        self._wall0 = wall_clock()
        self._counts: dict[tuple[str, int], _Counts] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def observe(self, model: str, version: int, *, rows: int, seconds: float) -> None:
        """Count one answered request: ``rows`` predictions made in ``seconds``."""
        key = (model, int(version))
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = _Counts()
            counts.busy_s += max(seconds, 0.0)
            counts.predictions += max(rows, 0)
            counts.requests += 1

    def snapshot(self) -> list[ServingUsage]:
        """The totals since the process started, one record per version served."""
        wall = max(self._wall_clock() - self._wall0, 0.0)
        cpu = max(self._cpu_clock() - self._cpu0, 0.0)
        peak = peak_rss_mb() or 0.0
        now = utcnow()
        with self._lock:
            counts = {
                key: _Counts(c.busy_s, c.predictions, c.requests) for key, c in self._counts.items()
            }
        busy = sum(c.busy_s for c in counts.values())
        host, pid = socket.gethostname(), os.getpid()
        usage = []
        for (model, version), c in sorted(counts.items()):
            share = c.busy_s / busy if busy > 0 else 1.0 / len(counts)
            usage.append(
                ServingUsage(
                    process_id=self.process_id,
                    model=model,
                    version=version,
                    environment=self.environment,
                    host=host,
                    pid=pid,
                    started_at=self.started_at,
                    updated_at=now,
                    wall_s=wall * share,
                    busy_s=c.busy_s,
                    cpu_s=cpu * share,
                    peak_rss_mb=peak,
                    predictions=c.predictions,
                    requests=c.requests,
                )
            )
        return usage

    def flush(self) -> bool:
        """Write the current totals now; ``False`` when the write failed (it is logged)."""
        usage = self.snapshot()
        if not usage:
            return True
        with self._write_lock:
            try:
                self.records.record_usage(self.actor, usage)
            except Exception as exc:  # noqa: BLE001 - the server keeps serving; next write retries
                _log.warning("Could not record serving usage: %s", exc)
                return False
        return True

    def start(self) -> None:
        """Start the thread that writes every ``interval_s`` seconds (no-op without one)."""
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="conveyor-usage-meter", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the writing thread and write the final totals."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(self.interval_s, 1.0) + 5.0)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.flush()
