"""In-memory buffering of metric values, written to the run records in batches.

Logging one value must cost microseconds, so values are appended to a list and written
with one :meth:`BaseRunRecords.log_metrics` call (in the metadata store, one multi-row
insert and one audit event; for a remote backend, one request) per run per flush. A flush
happens when the buffer holds ``max_values`` values or ``max_age_s`` passed since the last
one (both checked on each log call), on :meth:`MetricBuffer.flush`, and when a run finishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

from conveyor.core import utcnow
from conveyor.errors import ConveyorError
from conveyor.tracking._base import MetricValue

#: One buffered value, as the run records take it: key, value, step, time logged.
Point = MetricValue
#: Writes one run's batch to the records; raises on failure.
BatchWriter = Callable[[str, list[Point]], None]


class InvalidMetricError(ConveyorError, ValueError):
    """A metric key, value or step is not of an accepted type."""

    code = "invalid_metric"


def check_point(key: Any, value: Any, step: Any) -> tuple[float, int | None]:
    """Validate one value; return it as a float and the step as an int (or ``None``).

    Raises:
        InvalidMetricError: the key is not a non-empty string, the value not a real number
            (bools and strings are refused), or the step not an integer.
    """
    if type(key) is not str or not key:
        raise InvalidMetricError(
            f"Metric key {key!r} is not a non-empty string.",
            hint="Name metrics with strings, e.g. log_metric('loss', 0.3).",
            key=key,
        )
    kind = type(value)
    # Exact-type fast path first: this runs on every logged value.
    if (kind is not float and kind is not int) and (
        isinstance(value, bool) or not isinstance(value, Real)
    ):
        raise InvalidMetricError(
            f"Metric {key!r} has value {value!r} of type {kind.__name__}; "
            "metrics must be real numbers.",
            hint="Log a float or int (convert with float(...)); log text with log_params.",
            key=key,
            value=repr(value),
        )
    number = float(value)
    if step is not None and type(step) is not int:
        if isinstance(step, bool) or not hasattr(step, "__index__"):
            raise InvalidMetricError(
                f"Metric {key!r} has step {step!r}; a step must be an integer or None.",
                hint="Pass the iteration or epoch number as an int.",
                key=key,
                step=repr(step),
            )
        step = int(step)
    return number, step


class MetricBuffer:
    """Thread-safe buffer of metric values for many runs.

    Args:
        write: Writes one run's batch (one insert and one audit event).
        max_values: Flush once this many values are buffered.
        max_age_s: Flush on the next log call once this long passed since the last flush.
    """

    def __init__(
        self, write: BatchWriter, *, max_values: int = 1000, max_age_s: float = 1.0
    ) -> None:
        self._write = write
        self.max_values = max_values
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        # Held for a whole flush so batches of one run reach the store in logged order.
        self._flush_lock = threading.Lock()
        self._pending: dict[str, list[Point]] = {}
        self._count = 0
        self._last_flush = time.monotonic()

    def add(self, run_id: str, key: str, value: Any, step: Any = None) -> None:
        """Buffer one value (validated now) and flush if the buffer is due."""
        stored, step = check_point(key, value, step)
        now = utcnow()
        with self._lock:
            self._pending.setdefault(run_id, []).append((key, stored, step, now))
            self._count += 1
            due = self._due()
        if due:
            self.flush()

    def add_many(self, run_id: str, values: Mapping[str, Any], step: Any = None) -> None:
        """Buffer several values logged together (all validated before any is kept)."""
        checked = [(key, *check_point(key, value, step)) for key, value in values.items()]
        now = utcnow()
        with self._lock:
            points = self._pending.setdefault(run_id, [])
            points.extend((key, stored, s, now) for key, stored, s in checked)
            self._count += len(checked)
            due = self._due()
        if due:
            self.flush()

    def _due(self) -> bool:
        return (
            self._count >= self.max_values or time.monotonic() - self._last_flush >= self.max_age_s
        )

    def pending(self, run_id: str | None = None) -> int:
        """How many values wait to be written (for one run, or in total)."""
        with self._lock:
            if run_id is None:
                return self._count
            return len(self._pending.get(run_id, ()))

    def flush(self, run_id: str | None = None) -> int:
        """Write what is buffered (for one run, or all); return how many values were written.

        A batch whose write fails is put back at the front of the buffer (so nothing is
        lost) and the error propagates, unless the writer raised a :class:`ConveyorError`
        saying the batch can never be written (e.g. the run does not exist).
        """
        written = 0
        with self._flush_lock:
            with self._lock:
                if run_id is None:
                    batches, self._pending = self._pending, {}
                else:
                    batch = self._pending.pop(run_id, None)
                    batches = {run_id: batch} if batch else {}
                self._count -= sum(len(b) for b in batches.values())
                self._last_flush = time.monotonic()
            items = list(batches.items())
            for index, (rid, batch) in enumerate(items):
                try:
                    self._write(rid, batch)
                except ConveyorError:
                    self._requeue(items[index + 1 :])
                    raise
                except BaseException:
                    self._requeue(items[index:])
                    raise
                written += len(batch)
        return written

    def take(self, run_id: str, then: Callable[[list[Point]], None]) -> None:
        """Remove one run's buffered values and hand them to ``then``, unwritten.

        ``then`` runs while no flush is under way, so a concurrent flush either wrote the
        run's earlier values before ``then`` starts or holds none of them.
        """
        with self._flush_lock:
            with self._lock:
                batch = self._pending.pop(run_id, [])
                self._count -= len(batch)
            then(batch)

    def _requeue(self, items: list[tuple[str, list[Point]]]) -> None:
        with self._lock:
            for rid, batch in items:
                self._pending[rid] = batch + self._pending.get(rid, [])
                self._count += len(batch)
