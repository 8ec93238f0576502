"""Liveness: a background thread that keeps a run marked alive, and the rule for stale runs."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from conveyor.core import isoformat

if TYPE_CHECKING:
    from conveyor.tracking._records import Run
    from conveyor.tracking._tracker import RunTracker


def stale_runs(live: Iterable[Run], cutoff: datetime) -> dict[str, str]:
    """Which live runs are stale, each with the error it is failed with.

    A run is last seen at its heartbeat (or its start, if it never beat); a run whose
    ancestors are live too is also seen whenever they are (a long step is alive while its
    pipeline beats). A run last seen before ``cutoff`` is stale.

    Args:
        live: Every run that is ``running`` or ``pending`` (ancestors are only followed
            through this set).
        cutoff: Runs last seen before this time are stale.

    Returns:
        ``{run id: error}``, the error naming when the run was last seen, its host and pid.
    """
    by_id = {run.id: run for run in live}
    stale: dict[str, str] = {}
    for run in by_id.values():
        own = run.heartbeat_at or run.started_at
        seen, node, visited = own, run, {run.id}
        while node.parent_id in by_id and node.parent_id not in visited:
            node = by_id[node.parent_id]
            visited.add(node.id)
            seen = max(seen, node.heartbeat_at or node.started_at)
        if seen < cutoff:
            stale[run.id] = (
                f"process died: no heartbeat since {isoformat(own)} "
                f"(host {run.host}, pid {run.pid})"
            )
    return stale


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
