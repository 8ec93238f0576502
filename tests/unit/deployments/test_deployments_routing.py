"""choose_variant: weights respected, 0 % never chosen, stickiness by key."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.deployments import (
    Deployment,
    DeploymentError,
    Variant,
    choose_variant,
    key_fraction,
)


def _deployment(*variants: Variant) -> Deployment:
    return Deployment("production", 1, "canary", "progressing", variants)


CANARY = _deployment(Variant("churn", 1, "champion", 75.0), Variant("churn", 2, "challenger", 25.0))


def test_weights_are_respected_within_a_binomial_confidence_interval() -> None:
    rng = random.Random(42)
    draws = 10_000
    challenger = sum(
        choose_variant(CANARY, None, rng.random()).role == "challenger" for _ in range(draws)
    )
    # 99.9 % normal-approximation interval around the expected 25 %.
    half = 3.29 * math.sqrt(0.25 * 0.75 / draws)
    assert abs(challenger / draws - 0.25) < half


def test_zero_weight_variant_is_never_chosen_even_at_the_interval_edges() -> None:
    deployment = _deployment(
        Variant("churn", 1, "champion", 0.0),
        Variant("churn", 2, "challenger", 100.0),
        Variant("churn", 3, "shadow", 0.0),
    )
    for rnd in (0.0, 1e-12, 0.5, 0.999999999):
        assert choose_variant(deployment, None, rnd).role == "challenger"
    for i in range(2000):
        assert choose_variant(deployment, f"user-{i}", 0.0).role == "challenger"


@given(
    weight=st.floats(min_value=0.0, max_value=100.0),
    rnd=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_the_chosen_variant_always_has_positive_weight(weight: float, rnd: float) -> None:
    deployment = _deployment(
        Variant("churn", 1, "a", 100.0 - weight), Variant("churn", 2, "b", weight)
    )
    assert choose_variant(deployment, None, rnd).weight > 0


@given(key=st.text(min_size=1, max_size=40))
def test_the_same_key_always_gets_the_same_variant(key: str) -> None:
    first = choose_variant(CANARY, key, 0.0)
    assert all(choose_variant(CANARY, key, rnd) == first for rnd in (0.1, 0.5, 0.99))


def test_key_fraction_is_a_stable_hash_not_dependent_on_the_process() -> None:
    # A fixed value: changing the hash would reshuffle every user between variants.
    assert key_fraction("user-42") == pytest.approx(key_fraction("user-42"))
    assert 0.0 <= key_fraction("user-42") < 1.0
    assert key_fraction("user-42") != key_fraction("user-43")
    assert key_fraction("abc") == int.from_bytes(bytes.fromhex("6437b3ac38465133"), "big") / 2**64


def test_sticky_keys_split_by_the_weights() -> None:
    challenger = sum(
        choose_variant(CANARY, f"user-{i}", 0.0).role == "challenger" for i in range(10_000)
    )
    half = 3.29 * math.sqrt(0.25 * 0.75 / 10_000)
    assert abs(challenger / 10_000 - 0.25) < half


def test_a_deployment_without_live_variants_cannot_route() -> None:
    deployment = _deployment(Variant("churn", 2, "challenger", 0.0))
    with pytest.raises(DeploymentError, match="has no variant with weight above 0"):
        choose_variant(deployment, None, 0.5)


def test_a_routing_number_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(DeploymentError, match="outside"):
        choose_variant(CANARY, None, 1.0)


def test_variant_weights_and_roles_are_validated() -> None:
    with pytest.raises(DeploymentError, match="weights are percent"):
        Variant("churn", 1, "champion", 120.0)
    with pytest.raises(DeploymentError, match="not one of"):
        Variant("churn", 1, "king", 50.0)
    with pytest.raises(DeploymentError, match="shadows get copies only"):
        Variant("churn", 1, "shadow", 5.0)
