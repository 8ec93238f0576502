"""The server's usage meter: totals since start, split by busy time, written without failing."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from conveyor.core import Actor
from conveyor.predictions import ServingUsage, UsageMeter

ACTOR = Actor("server")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Written:
    """Keeps what the meter writes; fails while ``broken``."""

    def __init__(self) -> None:
        self.batches: list[list[ServingUsage]] = []
        self.broken = False

    def record_usage(self, actor: Actor, usage: Sequence[ServingUsage]) -> None:
        if self.broken:
            raise ConnectionError("store down")
        self.batches.append(list(usage))


def _meter(written: Written, cpu: Clock, wall: Clock, interval_s: float = 0.0) -> UsageMeter:
    return UsageMeter(
        written,
        ACTOR,
        environment="production",
        interval_s=interval_s,
        cpu_clock=cpu,
        wall_clock=wall,
    )


def test_totals_count_predictions_and_split_cpu_and_wall_by_busy_time() -> None:
    written, cpu, wall = Written(), Clock(), Clock()
    meter = _meter(written, cpu, wall)
    meter.observe("churn", 1, rows=3, seconds=0.3)
    meter.observe("churn", 1, rows=1, seconds=0.3)
    meter.observe("churn", 2, rows=2, seconds=0.2)
    meter.observe("churn", 2, rows=0, seconds=0.2)  # a failed request: busy, no prediction
    cpu.now, wall.now = 10.0, 100.0
    first, second = meter.snapshot()
    assert (first.version, first.predictions, first.requests) == (1, 4, 2)
    assert (second.version, second.predictions, second.requests) == (2, 2, 2)
    assert first.busy_s == pytest.approx(0.6)
    assert first.cpu_s == pytest.approx(6.0)
    assert second.cpu_s == pytest.approx(4.0)
    assert first.wall_s + second.wall_s == pytest.approx(100.0)
    assert first.process_id == second.process_id == meter.process_id
    assert first.environment == "production"
    assert first.peak_rss_mb > 0


def test_nothing_served_writes_nothing() -> None:
    written = Written()
    meter = _meter(written, Clock(), Clock())
    assert meter.flush()
    meter.close()
    assert written.batches == []


def test_a_failed_write_is_reported_and_the_next_one_carries_the_totals() -> None:
    written, cpu, wall = Written(), Clock(), Clock()
    meter = _meter(written, cpu, wall)
    meter.observe("churn", 1, rows=5, seconds=0.1)
    written.broken = True
    assert not meter.flush()
    written.broken = False
    meter.observe("churn", 1, rows=5, seconds=0.1)
    meter.close()
    (batch,) = written.batches
    assert batch[0].predictions == 10


def test_observations_from_many_threads_are_all_counted() -> None:
    written = Written()
    meter = _meter(written, Clock(), Clock())

    def send() -> None:
        for _ in range(2000):
            meter.observe("churn", 1, rows=1, seconds=0.0)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    meter.close()
    assert written.batches[-1][0].predictions == 8000


def test_the_background_thread_writes_every_interval_and_close_writes_last() -> None:
    written = Written()
    meter = UsageMeter(written, ACTOR, interval_s=0.01)
    meter.observe("churn", 1, rows=1, seconds=0.001)
    meter.start()
    deadline = threading.Event()
    for _ in range(500):
        if written.batches:
            break
        deadline.wait(0.01)
    assert written.batches, "the meter never wrote"
    meter.observe("churn", 1, rows=1, seconds=0.001)
    meter.close()
    assert written.batches[-1][0].predictions == 2
