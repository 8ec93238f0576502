"""Every built-in notifier keeps the :class:`BaseNotifier` contract: ``send`` returns a
count without raising (also from many threads, also for values JSON cannot encode, also
after ``close``), ``flush`` reports an empty queue, ``close`` is idempotent and bounded."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from conveyor.config import WebhooksConfig
from conveyor.notify import BaseNotifier, LogNotifier, MemoryNotifier, WebhookNotifier


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _webhook() -> BaseNotifier:
    """A webhook notifier whose receiver is down: every delivery fails, quickly."""
    config = WebhooksConfig(
        allowed_hosts=("127.0.0.1",),
        endpoints=({"url": f"http://127.0.0.1:{_closed_port()}/hook"},),
        max_attempts=2,
        timeout_s=2.0,
    )
    return WebhookNotifier(config, backoff_s=0.01, max_total_s=2.0)


FACTORIES: dict[str, Callable[[], BaseNotifier]] = {
    "log": LogNotifier,
    "memory": MemoryNotifier,
    "webhook": _webhook,
}


@pytest.fixture(params=sorted(FACTORIES))
def notifier(request: pytest.FixtureRequest) -> Iterator[BaseNotifier]:
    built = FACTORIES[request.param]()
    try:
        yield built
    finally:
        built.close(timeout=5)


def test_send_hands_the_event_to_its_destinations(notifier: BaseNotifier) -> None:
    assert notifier.send("deploy.promote", {"environment": "production", "revision": 2}) == 1


def test_send_never_raises_for_values_json_cannot_encode(notifier: BaseNotifier) -> None:
    payload = {"at": datetime(2026, 5, 1, tzinfo=UTC), "weights": {1, 2}, "n": 1}
    assert notifier.send("monitor.alert", payload) >= 0


def test_send_is_safe_from_many_threads(notifier: BaseNotifier) -> None:
    counts: list[int] = []
    lock = threading.Lock()

    def announce(i: int) -> None:
        sent = notifier.send("deploy.advance", {"step": i})
        with lock:
            counts.append(sent)

    threads = [threading.Thread(target=announce, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert counts == [1] * 8


def test_flush_reports_that_nothing_is_left(notifier: BaseNotifier) -> None:
    notifier.send("deploy.pause", {"environment": "staging"})
    assert notifier.flush(timeout=10)


def test_close_is_idempotent_and_send_after_it_does_not_raise(notifier: BaseNotifier) -> None:
    notifier.send("deploy.resume", {})
    notifier.close(timeout=5)
    notifier.close(timeout=5)
    assert notifier.send("deploy.resume", {}) in (0, 1)


def test_the_memory_notifier_keeps_events_in_order_until_closed() -> None:
    memory = MemoryNotifier()
    memory.send("monitor.alert", {"environment": "production"})
    memory.send("monitor.recovered", {"environment": "production"})
    memory.close()
    assert memory.send("monitor.alert", {}) == 0
    assert [event for event, _ in memory.events] == ["monitor.alert", "monitor.recovered"]
