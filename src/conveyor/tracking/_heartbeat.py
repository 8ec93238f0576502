"""A background thread that keeps a run marked alive."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.tracking._tracker import RunTracker


class Heartbeat:
    """Context manager calling ``tracker.heartbeat(run_id)`` every ``interval_s`` seconds.

    While the body runs, a daemon thread records the run as alive, so
    :meth:`RunTracker.reap_stale` can tell a long run from one whose process was killed.
    A failed heartbeat (database briefly unavailable) is kept in :attr:`last_error` and
    retried on the next beat rather than interrupting the run.

    Example:
        >>> with Heartbeat(ws.runs, run.id, interval_s=5.0):  # doctest: +SKIP
        ...     execute_steps()
    """

    def __init__(self, tracker: RunTracker, run_id: str, interval_s: float = 5.0) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.interval_s = interval_s
        self.beats = 0
        self.last_error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        self._beat()
        self._thread = threading.Thread(
            target=self._loop, name=f"conveyor-heartbeat-{self.run_id[:8]}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._beat()

    def _beat(self) -> None:
        try:
            self.tracker.heartbeat(self.run_id)
            self.beats += 1
        except Exception as exc:  # noqa: BLE001 - liveness must never kill the run
            self.last_error = exc
