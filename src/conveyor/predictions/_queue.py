"""The server-side prediction logger: a non-blocking queue drained by a writer thread.

``submit`` runs on the request path, so it only appends to a deque (thread-safe in
CPython), adds to a row counter under a lock held for that addition alone and, at most,
sets an event: nothing touches the disk or the database, and nothing raises. The server
submits one :class:`PredictionBatch` per request (all its rows, as columns); single
:class:`PredictionRecord` objects are accepted too. Every limit and counter is in rows.
A writer thread takes up to ``max_batch`` rows (or whatever waited ``max_wait_s``) and
writes them with one :meth:`PredictionLog.write`. When the queue is full, submissions go
to a second queue that a spill thread appends to local JSON Lines files (one line per
row); a write the log cannot take (the store is down) is spilled the same way. A row the
log refuses for itself (a name it does not allow, a value it cannot encode) is found by
splitting its write, a request's batch into its rows last, and only that row is
quarantined: the others are written. Only rows that fit nowhere (both queues full, or the
spill folder unwritable) are lost, and they are counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from conveyor.predictions._errors import PredictionLogError
from conveyor.predictions._privacy import PiiPolicy
from conveyor.predictions._records import (
    Loggable,
    LoggerStats,
    PredictionBatch,
    PredictionRecord,
    as_records,
    row_count,
)
from conveyor.predictions._spill import (
    claim_spill_files,
    encode_line,
    quarantine,
    read_spill_lines,
    write_spill,
)

_IDLE_POLL_S = 0.05
_log = logging.getLogger("conveyor.predictions")
#: Failures of the records themselves (a name the log refuses, a value Parquet or JSON
#: cannot encode, a number out of range): only those records are set aside. Anything else
#: is the store failing, and the whole batch is kept (spilled, or put back) for later.
_REFUSED = (ValueError, TypeError, OverflowError)
Rejected = list[tuple[PredictionRecord, BaseException]]


class BatchWriter(Protocol):
    """Where a logger writes batches: :class:`PredictionLog`, or a fake in tests.

    A writer whose ``takes_batches`` attribute is true (:class:`PredictionLog`) is given
    requests' :class:`PredictionBatch` objects as they were submitted; any other writer
    is given one :class:`PredictionRecord` per row, as before batches existed.
    """

    def write(self, records: Sequence[Loggable], *, idempotent: bool = False) -> object:
        """Store ``records`` (rows, or requests' batches of rows) durably or raise."""


class PredictionLogger:
    """Logs predictions off the request path, in batches, spilling to disk under overload.

    Thread safety: :meth:`submit` may be called from any number of threads; the other
    methods too. Records are written in submission order per submitting thread.

    Sizes count rows: a :class:`PredictionBatch` of 100 rows counts 100. A request's batch
    is never split between writes, so one write may exceed ``max_batch`` by less than a
    request's rows.

    Args:
        log: Where batches are written (a :class:`PredictionLog`).
        max_batch: Most rows per :meth:`PredictionLog.write` (a request larger than that
            is written alone). Each write costs a metadata transaction, an audit event and
            a Parquet file's set-up besides its rows (about 5 ms of CPU), so under load
            fewer, larger writes leave the server more CPU: 50,000 rows per write cost
            about 40 % less CPU per row than 10,000. Under light load a write holds what
            waited ``max_wait_s``, whatever its size.
        max_wait_s: Longest a record waits before its (partial) batch is written.
        max_queue: Rows held in memory before new ones are spilled to disk instead (four
            full writes: under load, rows keep arriving while a write of ``max_batch`` is
            in progress, and a spilled row costs more CPU than a written one).
        max_spill_queue: Rows waiting for the spill thread (default 1,000,000);
            beyond it, rows are lost and counted as failed.
        spill_dir: Folder for spill files (created when first needed).
        privacy: Personal-data columns to hash or leave out, applied in :meth:`submit` so
            that neither the queue nor a spill file holds them in clear (default: the
            ``privacy`` attribute of ``log``, read on each submit).

    Example:
        >>> logger = PredictionLogger(log, spill_dir=Path(".conveyor/spill"))  # doctest: +SKIP
        >>> logger.recover_spill()  # doctest: +SKIP
        0
        >>> logger.submit(record)  # doctest: +SKIP
        >>> logger.close()  # doctest: +SKIP
    """

    def __init__(
        self,
        log: BatchWriter,
        *,
        max_batch: int = 50_000,
        max_wait_s: float = 1.0,
        max_queue: int = 200_000,
        max_spill_queue: int | None = None,
        spill_dir: Path,
        privacy: PiiPolicy | None = None,
    ) -> None:
        max_spill_queue = 1_000_000 if max_spill_queue is None else max_spill_queue
        limits = (("max_batch", max_batch, 1), ("max_queue", max_queue, 1))
        for name, value, least in (*limits, ("max_spill_queue", max_spill_queue, 0)):
            if value < least:
                raise PredictionLogError(
                    f"{name} must be at least {least}, got {value}.",
                    hint=f"Pass a positive {name}.",
                    **{name: value},
                )
        if not max_wait_s > 0:
            raise PredictionLogError(
                f"max_wait_s must be positive, got {max_wait_s}.",
                hint="Pass the longest time in seconds a record may wait, e.g. 1.0.",
                max_wait_s=max_wait_s,
            )
        self.log = log
        self._takes_batches = bool(getattr(log, "takes_batches", False))
        self.privacy = privacy
        self.spill_dir = Path(spill_dir)
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.max_spill_queue = max_spill_queue
        self._queue: deque[tuple[float, Loggable]] = deque()
        self._overflow: deque[Loggable] = deque()
        #: Rows in ``_queue`` and ``_overflow`` (changed under ``_lock``).
        self._queued_rows = 0
        self._overflow_rows = 0
        self._wake = threading.Event()
        self._spill_wake = threading.Event()
        self._idle = threading.Condition()
        self._lock = threading.Lock()
        self._closing = False
        self._stop_spiller = False
        self._flushers = 0
        self._writer_busy = False
        self._spiller_busy = False
        self._written = self._spilled = self._failed = self._write_errors = 0
        self._quarantined = 0
        #: The last exception a write or spill raised, for diagnosis.
        self.last_error: BaseException | None = None
        self._writer = threading.Thread(
            target=self._write_loop, name="conveyor-prediction-writer", daemon=True
        )
        self._spiller = threading.Thread(
            target=self._spill_loop, name="conveyor-prediction-spill", daemon=True
        )
        self._writer.start()
        self._spiller.start()

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the request path ----------------------------------------------------------------

    def submit(self, record: Loggable) -> None:
        """Queue ``record`` (a row, or a request's :class:`PredictionBatch`) for logging.

        Never blocks on I/O and never raises: what cannot be queued is spilled, and what
        cannot be spilled is counted as failed.
        """
        rows = 1
        try:
            rows = row_count(record)
            privacy = self.privacy or getattr(self.log, "privacy", None)
            if privacy is not None:
                record = privacy.apply(record)
            if self._closing:
                self._spill_now([record])
                return
            with self._lock:
                depth = self._queued_rows + rows
                if depth <= self.max_queue:
                    self._queued_rows = depth
                    where = self._queue
                elif self._overflow_rows + rows <= self.max_spill_queue:
                    self._overflow_rows += rows
                    where = None
                else:
                    self._failed += rows
                    return
            if where is not None:
                where.append((time.monotonic(), record))
                # Wake the writer for the first record (to time its wait) and for a full batch.
                if (depth == rows or depth >= self.max_batch) and not self._wake.is_set():
                    self._wake.set()
            else:
                self._overflow.append(record)
                if not self._spill_wake.is_set():
                    self._spill_wake.set()
        except Exception as exc:  # noqa: BLE001 - logging must never fail a request
            self.last_error = exc
            self._count(failed=rows)

    # -- control -------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Write (or spill) everything submitted so far; return False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flushers += 1
        try:
            with self._idle:
                while not self._is_idle():
                    self._wake.set()
                    if self._overflow:
                        self._spill_wake.set()
                    remaining = _IDLE_POLL_S
                    if deadline is not None:
                        remaining = min(remaining, deadline - time.monotonic())
                        if remaining <= 0:
                            return False
                    self._idle.wait(remaining)
            return True
        finally:
            with self._lock:
                self._flushers -= 1

    def close(self, timeout: float | None = None) -> None:
        """Flush everything and stop the threads; later submissions are spilled directly."""
        self._closing = True
        self._wake.set()
        self._writer.join(timeout)
        self._stop_spiller = True
        self._spill_wake.set()
        self._spiller.join(timeout)
        # Whatever raced past the checks above (or outlived a timeout) still reaches disk.
        leftovers = [self._queue.popleft()[1] for _ in range(len(self._queue))]
        leftovers += [self._overflow.popleft() for _ in range(len(self._overflow))]
        if leftovers:
            with self._lock:
                self._queued_rows = self._overflow_rows = 0
            self._spill_now(leftovers)

    def stats(self) -> LoggerStats:
        """Queue depth, lag and the written/spilled/failed counters."""
        try:
            lag = max(0.0, time.monotonic() - self._queue[0][0])
        except IndexError:
            lag = 0.0
        return LoggerStats(
            queue_depth=self._queued_rows + self._overflow_rows,
            lag_s=lag,
            written=self._written,
            spilled=self._spilled,
            failed=self._failed,
            write_errors=self._write_errors,
            quarantined=self._quarantined,
        )

    def recover_spill(self) -> int:
        """Write the records of every spill file in ``spill_dir`` to the log, then delete them.

        Call it on start. Each file is claimed by renaming it first, so concurrent
        recoveries never ingest a file twice, and batches already indexed (a crash after
        writing, before deleting) are recognised by content and not written again. A line
        that cannot be replayed (not UTF-8, not a record, or refused by the log) is moved to
        ``spill_dir/quarantine`` and logged as a warning: it never stops a start.

        Returns:
            The number of records ingested.

        Raises:
            PredictionLogError: (or the store's error) the store could not take a batch; its
                file is put back for the next recovery.
        """
        ingested = 0
        for claimed, done in claim_spill_files(self.spill_dir):
            records, bad = read_spill_lines(claimed)
            try:
                rejected: Rejected = []
                for start in range(0, len(records), self.max_batch):
                    batch = records[start : start + self.max_batch]
                    rejected += self._write_sorted(batch, idempotent=True)
            except BaseException:
                claimed.replace(done)
                raise
            self._quarantine(bad, rejected, source=done.name.removesuffix(".jsonl"))
            claimed.unlink()
            ingested += len(records) - len(rejected)
        return ingested

    def _write_sorted(self, records: Sequence[Loggable], *, idempotent: bool) -> Rejected:
        """Write ``records``; return the rows the log refuses for themselves, with why.

        A refused write is split in halves until the refused items are alone, and a
        refused request's batch into its rows, so one bad row costs about
        ``log2(batch)`` extra writes and the others are all written.

        Raises:
            PredictionLogError: (or whatever else the log raises) the store is unavailable.
        """
        try:
            self.log.write(records, idempotent=idempotent)
        except _REFUSED as exc:
            if len(records) == 1:
                (item,) = records
                if isinstance(item, PredictionBatch):
                    return self._write_sorted(item.records(), idempotent=idempotent)
                return [(item, exc)]
            middle = len(records) // 2
            return self._write_sorted(records[:middle], idempotent=idempotent) + self._write_sorted(
                records[middle:], idempotent=idempotent
            )
        return []

    def _quarantine(self, bad: list[bytes], rejected: Rejected, *, source: str) -> None:
        """Move unreadable lines and refused records aside, and say so."""
        if not bad and not rejected:
            return
        lines = bad + [encode_line(record) for record, _ in rejected]
        try:
            target = quarantine(self.spill_dir, lines, source=source)
        except OSError as exc:
            self.last_error = exc
            self._count(failed=len(lines))
            _log.error(
                "Could not quarantine %d prediction record(s) in %s: %s; they are lost.",
                len(lines),
                self.spill_dir,
                exc,
            )
            return
        self._count(quarantined=len(lines))
        reason = (
            f"{type(rejected[0][1]).__name__}: {rejected[0][1]}"
            if rejected
            else "not a readable record"
        )
        _log.warning(
            "Quarantined %d prediction record(s) that cannot be logged in %s (first: %s).",
            len(lines),
            target,
            reason,
        )

    # -- the background threads ----------------------------------------------------------

    def _write_loop(self) -> None:
        queue = self._queue
        while True:
            self._wake.clear()
            if not queue:
                if self._closing:
                    return
                self._notify_idle()
                self._wake.wait(self.max_wait_s)
                continue
            wait = queue[0][0] + self.max_wait_s - time.monotonic()
            urgent = self._closing or self._flushers > 0
            if self._queued_rows < self.max_batch and wait > 0 and not urgent:
                self._wake.wait(wait)
                continue
            self._writer_busy = True
            batch: list[Loggable] = []
            rows = 0
            while queue and rows < self.max_batch:
                item = queue.popleft()[1]
                batch.append(item)
                rows += row_count(item)
            with self._lock:
                self._queued_rows -= rows
            self._write_batch(batch, rows)
            self._writer_busy = False
            self._notify_idle()

    def _write_batch(self, batch: list[Loggable], rows: int) -> None:
        try:
            items: Sequence[Loggable] = batch if self._takes_batches else as_records(batch)
            rejected = self._write_sorted(items, idempotent=False)
        except Exception as exc:  # noqa: BLE001 - a batch the store cannot take is spilled
            self.last_error = exc
            self._count(write_errors=1)
            self._spill_now(batch)
            return
        if rejected:
            self.last_error = rejected[0][1]
            self._count(write_errors=1)
            self._quarantine([], rejected, source=f"live-{time.time_ns()}")
        self._count(written=rows - len(rejected))

    def _spill_loop(self) -> None:
        overflow = self._overflow
        while True:
            self._spill_wake.clear()
            if not overflow:
                if self._stop_spiller:
                    return
                self._notify_idle()
                self._spill_wake.wait()
                continue
            self._spiller_busy = True
            items = [overflow.popleft() for _ in range(len(overflow))]
            with self._lock:
                self._overflow_rows -= sum(map(row_count, items))
            self._spill_now(items)
            self._spiller_busy = False
            self._notify_idle()

    def _spill_now(self, items: list[Loggable]) -> None:
        try:
            records = as_records(items)
        except Exception as exc:  # noqa: BLE001 - counted; nothing else can be done
            self.last_error = exc
            self._count(failed=sum(map(row_count, items)))
            return
        try:
            spilled, lost = write_spill(self.spill_dir, records)
        except Exception as exc:  # noqa: BLE001 - counted; nothing else can be done
            self.last_error = exc
            self._count(failed=len(records))
        else:
            self._count(spilled=spilled, failed=lost)

    def _count(
        self,
        *,
        written: int = 0,
        spilled: int = 0,
        failed: int = 0,
        write_errors: int = 0,
        quarantined: int = 0,
    ) -> None:
        with self._lock:
            self._quarantined += quarantined
            self._written += written
            self._spilled += spilled
            self._failed += failed
            self._write_errors += write_errors

    def _is_idle(self) -> bool:
        # Busy flags are set before records leave a queue, so this is never falsely true.
        return not (self._queue or self._overflow or self._writer_busy or self._spiller_busy)

    def _notify_idle(self) -> None:
        with self._idle:
            self._idle.notify_all()
