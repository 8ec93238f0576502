"""Shadow traffic: copies of live requests predicted off the response path and logged.

A copy is handed over only after the live response is built, and runs on a small pool of
daemon threads of its own, never on the event loop or the request's worker thread, so a
shadow that is slow, hangs or raises cannot delay or change the live answer. Each copy has
a time budget (``shadow_timeout_ms``): when it runs out the copy is logged as an error
(``"timed out"``) while its thread finishes in the background and its result is dropped.
When every thread is busy (a hung shadow model) and the queue is full, further copies are
dropped and counted instead of piling up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.serving._inputs import Rows
from conveyor.serving._model import ServedModel
from conveyor.serving._predict import Predictor, call_model
from conveyor.serving._settings import ServingSettings

_log = logging.getLogger("conveyor.serving")
RowParser = Callable[[ServedModel, Mapping[str, Any], ServingSettings], Rows]
Job = Callable[[], None]


class _Claim:
    """Decides once, across threads, whether a copy ends by its result or by its timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False

    def take(self) -> bool:
        """True for the first caller only."""
        with self._lock:
            if self._taken:
                return False
            self._taken = True
            return True


@dataclass(frozen=True)
class _Copy:
    """One request copy on its way to the shadow variant."""

    model: ServedModel
    payload: Mapping[str, Any]
    parse: RowParser
    request_id: str
    timeout_s: float
    on_done: Callable[[str], None] | None
    started: float = field(default_factory=time.perf_counter)
    claim: _Claim = field(default_factory=_Claim)


class ShadowRunner:
    """Predicts request copies with the shadow variant and logs them (variant ``shadow``).

    Thread safety: :meth:`submit` is called on the event loop; workers report back to it
    with ``call_soon_threadsafe``.

    Args:
        settings: The server's input policies (used to parse the copy for the shadow).
        engine: Logs the shadow's predictions (status ``ok`` or ``error``).
        workers: Threads running shadow predictions.
        max_queued: Copies waiting for a thread beyond which new copies are dropped.
        on_outcome: Called with ``(model, outcome)`` for every copy; ``outcome`` is
            ``ok``, ``error``, ``timeout`` or ``dropped`` (the server counts them).
    """

    def __init__(
        self,
        settings: ServingSettings,
        engine: Predictor,
        *,
        workers: int = 4,
        max_queued: int = 64,
        on_outcome: Callable[[ServedModel, str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._queue: queue.Queue[Job] = queue.Queue(maxsize=max_queued)
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_outcome = on_outcome

    def submit(
        self,
        model: ServedModel,
        payload: Mapping[str, Any],
        parse: RowParser,
        request_id: str,
        timeout_s: float,
        *,
        on_done: Callable[[str], None] | None = None,
    ) -> None:
        """Predict a copy of one request with ``model`` in the background (never raises).

        Args:
            model: The shadow variant's loaded model.
            payload: The request's parsed body (parsed again for the shadow's signature).
            parse: The route's parser of ``payload`` into rows.
            request_id: The live request's id (the shadow's record carries the same id, so
                feedback labels join both).
            timeout_s: The copy's time budget.
            on_done: Called on the event loop with the outcome once the copy is settled.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        copy = _Copy(model, payload, parse, request_id, timeout_s, on_done)

        def settle(outcome: str) -> None:
            if not future.done():
                future.set_result(outcome)

        def job() -> None:
            outcome = self._predict(copy)
            # The loop is gone when the server stopped meanwhile: nobody waits any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, outcome)

        self._start_workers()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._report(copy, "dropped")
            return
        task = loop.create_task(self._await(copy, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await(self, copy: _Copy, future: asyncio.Future[str]) -> None:
        try:
            outcome = await asyncio.wait_for(asyncio.shield(future), copy.timeout_s)
        except TimeoutError:
            if copy.claim.take():
                # The worker will find the claim taken and drop its late result.
                outcome = "timeout"
                model = copy.model
                self._engine.log_failure(
                    model,
                    copy.request_id,
                    f"Shadow {model.name}@{model.version} timed out after "
                    f"{copy.timeout_s * 1000:g} ms.",
                    copy.timeout_s * 1000.0,
                )
            else:  # the result arrived just in time and is being logged
                outcome = await future
        self._report(copy, outcome)

    def _predict(self, copy: _Copy) -> str:
        rows: Rows | None = None
        model = copy.model
        try:
            rows = copy.parse(model, copy.payload, self._settings)
            values = call_model(model, rows)
        except Exception as exc:  # noqa: BLE001 - a shadow failure is logged, never raised
            if not copy.claim.take():
                return "timeout"
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            latency_ms = (time.perf_counter() - copy.started) * 1000.0
            if rows is None:
                self._engine.log_failure(model, copy.request_id, message, latency_ms)
            else:
                self._engine.log(model, copy.request_id, rows, None, latency_ms, error=message)
            return "error"
        if not copy.claim.take():
            return "timeout"
        latency_ms = (time.perf_counter() - copy.started) * 1000.0
        self._engine.log(model, copy.request_id, rows, values, latency_ms)
        return "ok"

    def _report(self, copy: _Copy, outcome: str) -> None:
        if outcome == "dropped":
            _log.warning(
                "Shadow %s@%s is saturated; a copy was dropped.",
                copy.model.name,
                copy.model.version,
            )
        if self._on_outcome is not None:
            self._on_outcome(copy.model, outcome)
        if copy.on_done is not None:
            copy.on_done(outcome)

    def _start_workers(self) -> None:
        if self._threads:
            return
        for index in range(self._workers):
            thread = threading.Thread(
                target=self._work, name=f"conveyor-shadow-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job()
            except Exception:  # noqa: BLE001 - keep the worker alive whatever a job does
                _log.exception("A shadow prediction could not be completed.")
