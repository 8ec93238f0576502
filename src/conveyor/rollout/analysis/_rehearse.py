"""A synthetic canary, run through :func:`analyse` alone: how often do rollouts go wrong?

This is the loop the controller runs (wait for the step's minimum requests, analyse,
roll back on ``fail``, step up or promote on ``pass``, wait on ``continue`` and
``hold``) with traffic drawn from known
rates and no server, clock or store, so thousands of rollouts take seconds. The tests and
``benchmarks/bench_canary.py`` use it to check the stated bounds empirically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from conveyor.config import AnalysisConfig
from conveyor.rollout.analysis._analyse import analyse
from conveyor.rollout.analysis._stats import VariantStats

Outcome = Literal["promoted", "rolled_back", "undecided"]


@dataclass(frozen=True)
class Arm:
    """How one synthetic model behaves.

    Attributes:
        accuracy: Probability that a prediction equals its label.
        error_rate: Probability that a request fails.
        latency_ms: Median latency (log-normal, sigma 0.3).
    """

    accuracy: float = 0.85
    error_rate: float = 0.001
    latency_ms: float = 20.0


@dataclass(frozen=True)
class RehearsalResult:
    """How one synthetic rollout ended.

    Attributes:
        outcome: ``promoted``, ``rolled_back``, or ``undecided`` (traffic ran out).
        challenger_requests: Requests the challenger served before the outcome.
        requests: All requests served before the outcome.
        final_step: The traffic percent of the step where it ended.
        reasons: The reasons of the last analysis.
    """

    outcome: Outcome
    challenger_requests: int
    requests: int
    final_step: int
    reasons: tuple[str, ...]


def rehearse_canary(
    champion: Arm,
    challenger: Arm,
    *,
    seed: int,
    steps: tuple[int, ...] = (5, 25, 50, 100),
    min_requests: int = 200,
    params: AnalysisConfig | None = None,
    requests_per_tick: int = 1000,
    max_requests: int = 500_000,
    labelled_share: float = 1.0,
) -> RehearsalResult:
    """Run one synthetic canary until it promotes, rolls back or runs out of traffic.

    Statistics accumulate from the start of the rollout (what the controller passes);
    each step first waits for ``min_requests`` requests, then analyses every tick.

    Args:
        champion: The incumbent model.
        challenger: The new model.
        seed: Seed of the traffic generator (same seed, same rollout).
        steps: Challenger traffic percent per step.
        min_requests: Requests a step must serve before it is analysed.
        params: Analysis settings (defaults when ``None``).
        requests_per_tick: Requests between two analyses.
        max_requests: Traffic available before the rollout counts as undecided.
        labelled_share: Share of requests whose label arrives.

    Returns:
        How the rollout ended and how much traffic the challenger served.

    Example:
        >>> rehearse_canary(Arm(), Arm(accuracy=0.6), seed=1).outcome
        'rolled_back'
    """
    rng = np.random.default_rng(seed)
    buffers = {role: _Buffer(max_requests) for role in ("champion", "challenger")}
    arms = {"champion": champion, "challenger": challenger}
    served = 0
    for index, percent in enumerate(steps):
        step_served = 0
        while served < max_requests:
            n = min(requests_per_tick, max_requests - served)
            to_challenger = int(rng.binomial(n, percent / 100))
            for role, count in (("challenger", to_challenger), ("champion", n - to_challenger)):
                buffers[role].add(rng, arms[role], count, labelled_share)
            served += n
            step_served += n
            if step_served < min_requests:
                continue
            result = analyse(buffers["champion"].stats(), buffers["challenger"].stats(), params)
            if result.verdict == "fail":
                return _ended("rolled_back", buffers, served, percent, result.reasons)
            if result.verdict == "pass":
                if index == len(steps) - 1:
                    return _ended("promoted", buffers, served, percent, result.reasons)
                break
        else:
            return _ended("undecided", buffers, served, percent, ["traffic ran out"])
    raise AssertionError("unreachable: the last step ends the rollout")  # pragma: no cover


class _Buffer:
    """Preallocated arrays of one variant's traffic, grown by ticks."""

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.errors = 0
        self.ok = 0
        self.latencies = np.empty(capacity)
        self.predictions = np.empty(capacity, dtype=np.int64)
        self.labels = np.empty(capacity)

    def add(self, rng: np.random.Generator, arm: Arm, count: int, labelled: float) -> None:
        self.latencies[self.n : self.n + count] = arm.latency_ms * rng.lognormal(0, 0.3, count)
        self.n += count
        failed = int(rng.binomial(count, arm.error_rate))
        self.errors += failed
        ok = count - failed
        truth = rng.integers(0, 2, ok)
        correct = rng.random(ok) < arm.accuracy
        self.predictions[self.ok : self.ok + ok] = np.where(correct, truth, 1 - truth)
        known = rng.random(ok) < labelled
        self.labels[self.ok : self.ok + ok] = np.where(known, truth, np.nan)
        self.ok += ok

    def stats(self) -> VariantStats:
        return VariantStats(
            self.n,
            self.errors,
            self.latencies[: self.n],
            self.predictions[: self.ok],
            self.labels[: self.ok],
        )


def _ended(
    outcome: Outcome, buffers: dict[str, _Buffer], served: int, step: int, reasons: list[str]
) -> RehearsalResult:
    return RehearsalResult(outcome, buffers["challenger"].n, served, step, tuple(reasons))
