"""Canary analysis error rates, measured on synthetic rollouts of the analysis loop.

Runs ``conveyor.rollout.analysis.rehearse_canary`` (the controller's step/analyse loop with
traffic drawn from known rates, default analysis settings, steps 5/25/50/100) many times
with fixed seeds and prints: how often an equal challenger is promoted (bound: rolled back
at most ``alpha`` = 5 % of the time), how often a challenger with 5 points lower accuracy
is rolled back (bound: promoted at most ``beta`` = 5 %), and how many requests the worse
model served before its rollback.

Run: ``python benchmarks/bench_canary.py [ROLLOUTS]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from benchmarks import scale
from conveyor.rollout.analysis import Arm, RehearsalResult, rehearse_canary


def _run(challenger: Arm, rollouts: int) -> list[RehearsalResult]:
    return [
        rehearse_canary(Arm(), challenger, seed=seed, requests_per_tick=1000)
        for seed in range(rollouts)
    ]


def _share(results: list[RehearsalResult], outcome: str) -> float:
    return sum(result.outcome == outcome for result in results) / len(results)


def main(rollouts: int | None = None) -> None:
    """Print the promote and rollback rates over ``rollouts`` seeded synthetic rollouts.

    Default: 200 scaled by ``CONVEYOR_BENCH_SCALE`` (at least 5).
    """
    if rollouts is None:
        rollouts = max(int(200 * scale()), 5)
    print(f"canary analysis, {rollouts} seeded rollouts per scenario, steps 5/25/50/100,")
    print("champion accuracy 0.85, error rate 0.1 %, alpha = beta = 0.05, tolerance 2 points\n")
    started = time.perf_counter()
    equal = _run(Arm(), rollouts)
    served = np.array([r.challenger_requests for r in equal])
    print("equal challenger:")
    print(f"  promoted    {_share(equal, 'promoted'):7.1%}   (expected >= 95 %)")
    print(f"  rolled back {_share(equal, 'rolled_back'):7.1%}   (bound <= alpha = 5 %)")
    print(f"  undecided   {_share(equal, 'undecided'):7.1%}")
    print(f"  requests to promotion: median {np.median([r.requests for r in equal]):,.0f}")
    print(f"  challenger requests:   median {np.median(served):,.0f}\n")
    worse = _run(Arm(accuracy=0.80), rollouts)
    served = np.array([r.challenger_requests for r in worse if r.outcome == "rolled_back"])
    print("challenger 5 points less accurate (0.80):")
    print(f"  rolled back {_share(worse, 'rolled_back'):7.1%}   (expected >= 95 %)")
    print(f"  promoted    {_share(worse, 'promoted'):7.1%}   (bound <= beta = 5 %)")
    print(f"  undecided   {_share(worse, 'undecided'):7.1%}")
    if len(served):
        low, mid, high = np.percentile(served, [5, 50, 95])
        print(
            f"  requests served by the worse model before rollback: median {mid:,.0f} "
            f"(5-95 %: {low:,.0f}-{high:,.0f}), mean {served.mean():,.0f}"
        )
    print(f"\nwall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
