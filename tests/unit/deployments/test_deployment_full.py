"""``Deployment.full``: the version an environment serves, or none while traffic is split."""

from __future__ import annotations

from conveyor.deployments import Deployment, Variant


def _deployment(*variants: Variant, state: str = "stable") -> Deployment:
    return Deployment("production", 1, "replace", state, variants)


def test_one_variant_at_100_percent_is_served_fully() -> None:
    assert _deployment(Variant("churn", 3, "champion", 100.0)).full == Variant(
        "churn", 3, "champion", 100.0
    )


def test_blue_green_serves_green_fully_with_blue_warm_at_zero() -> None:
    deployment = _deployment(Variant("churn", 4, "green", 100.0), Variant("churn", 3, "blue", 0.0))
    assert deployment.full is not None
    assert deployment.full.version == 4


def test_a_split_serves_no_version_fully() -> None:
    split = _deployment(
        Variant("churn", 3, "champion", 90.0),
        Variant("churn", 4, "challenger", 10.0),
        state="progressing",
    )
    assert split.full is None


def test_a_shadow_does_not_count_as_serving() -> None:
    shadowed = _deployment(Variant("churn", 3, "champion", 100.0), Variant("churn", 4, "shadow", 0))
    assert shadowed.full is not None
    assert shadowed.full.version == 3
