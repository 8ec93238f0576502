"""Counting failed token checks per client, in memory, to slow down guessing."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from conveyor.security._errors import TooManyAttemptsError

__all__ = ["FailureLimiter"]


class FailureLimiter:
    """At most ``max_failures`` failed checks per client in any ``window_s`` seconds.

    A client over the limit is refused (:class:`TooManyAttemptsError`, 429) until its
    oldest counted failure leaves the window, whatever it presents, so a guess cannot be
    confirmed while blocked. Memory is bounded: at most ``max_clients`` clients are kept,
    the least recently failing ones forgotten first. Thread-safe; per process.

    Args:
        max_failures: Failures allowed in the window.
        window_s: The window, in seconds.
        max_clients: Most clients remembered.
        clock: Monotonic seconds (tests pass a fake).

    Example:
        >>> limiter = FailureLimiter(max_failures=2, window_s=60)
        >>> limiter.failed("10.0.0.7"); limiter.failed("10.0.0.7")
        >>> limiter.check("10.0.0.7")
        Traceback (most recent call last):
        ...
        conveyor.security._errors.TooManyAttemptsError: Too many failed token checks from ...
    """

    def __init__(
        self,
        *,
        max_failures: int = 10,
        window_s: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, client: str) -> None:
        """Raise :class:`TooManyAttemptsError` if ``client`` is over the limit now."""
        with self._lock:
            times = self._recent(client)
            if times is None or len(times) < self.max_failures:
                return
            retry = max(1, int(times[0] + self.window_s - self._clock() + 0.999))
        raise TooManyAttemptsError(
            f"Too many failed token checks from {client}; retry in {retry} s.",
            hint="Check the token you send; failures are counted per client.",
            retry_after=retry,
        )

    def failed(self, client: str) -> None:
        """Count one failed check of ``client``."""
        with self._lock:
            times = self._recent(client)
            if times is None:
                times = self._failures[client] = deque()
            times.append(self._clock())
            self._failures.move_to_end(client)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def _recent(self, client: str) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        horizon = self._clock() - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times
