"""The stated bounds, checked on seeded synthetic rollouts of the analysis loop."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from conveyor.rollout.analysis import Arm, half_width, rehearse_canary

ROLLOUTS = 100


def test_an_equal_challenger_is_promoted_in_at_least_95_percent_of_rollouts() -> None:
    results = [
        rehearse_canary(Arm(), Arm(), seed=seed, requests_per_tick=5_000)
        for seed in range(ROLLOUTS)
    ]
    promoted = sum(result.outcome == "promoted" for result in results)
    assert promoted >= 0.95 * ROLLOUTS
    assert all(result.final_step == 100 for result in results if result.outcome == "promoted")


def test_a_challenger_5_points_less_accurate_is_rolled_back_in_at_least_95_percent() -> None:
    results = [
        rehearse_canary(Arm(), Arm(accuracy=0.80), seed=seed, requests_per_tick=500)
        for seed in range(ROLLOUTS)
    ]
    rolled_back = [result for result in results if result.outcome == "rolled_back"]
    assert len(rolled_back) >= 0.95 * ROLLOUTS
    # The worse model served a bounded, reported number of requests: the first (5 %) step.
    assert all(result.final_step == 5 for result in rolled_back)
    assert max(result.challenger_requests for result in rolled_back) < 5_000


def test_a_challenger_that_raises_on_some_inputs_is_rolled_back_at_the_first_step() -> None:
    for seed in range(20):
        result = rehearse_canary(
            Arm(), Arm(error_rate=0.05), seed=seed, requests_per_tick=500, labelled_share=0.0
        )
        assert result.outcome == "rolled_back"
        assert "error rate" in result.reasons[0]


@given(
    variance=st.floats(1e-9, 1.0),
    tau=st.floats(1e-3, 1.0),
    level=st.floats(1e-4, 0.4),
)
def test_the_boundary_is_wider_than_the_fixed_sample_interval(
    variance: float, tau: float, level: float
) -> None:
    """Always-valid intervals pay for continuous monitoring: never narrower than z * sd."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - level / 2)
    assert half_width(variance, tau * tau, level) >= z * math.sqrt(variance) * 0.999


@given(st.floats(1e-8, 1e-2), st.floats(1e-3, 0.2))
def test_the_boundary_shrinks_as_evidence_grows(variance: float, level: float) -> None:
    assert half_width(variance / 4, 4e-4, level) < half_width(variance, 4e-4, level)
