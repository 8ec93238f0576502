"""Which rollouts the automatic analysis acts on: a pause by hand is left alone."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.deployments import Deployment, Variant
from conveyor.rollout._tick import AWAITING_LABELS, evaluates


def _rollout(state: str, strategy: str = "canary", **params: Any) -> Deployment:
    variants = (Variant("churn", 1, "champion", 90.0), Variant("churn", 2, "challenger", 10.0))
    return Deployment("production", 3, strategy, state, variants, (10, 100), params=params)


@pytest.mark.parametrize(
    ("deployment", "acts"),
    [
        (_rollout("progressing"), True),
        (_rollout("paused", **{AWAITING_LABELS: {"since": "2026-01-01T00:00:00+00:00"}}), True),
        (_rollout("paused"), False),  # paused by an operator
        (_rollout("progressing", strategy="ab"), False),
        (_rollout("promoted"), False),
        (None, False),
    ],
)
def test_the_analysis_acts_on_progressing_and_its_own_pauses(
    deployment: Deployment | None, acts: bool
) -> None:
    assert evaluates(deployment) is acts
