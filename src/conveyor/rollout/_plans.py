"""What each strategy serves: the variants at the start of a rollout and at each step.

Pure functions over :class:`~conveyor.deployments.Variant`; the controller persists what
they return. ``incumbent`` is the version serving now, ``candidate`` the one deployed.
"""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.deployments import Deployment, DeploymentError, Variant

#: The role that carries the new version while a rollout runs, per strategy.
CANDIDATE_ROLE = {"canary": "challenger", "shadow": "shadow", "ab": "b", "blue-green": "green"}


def check_steps(steps: Sequence[int]) -> tuple[int, ...]:
    """Return ``steps`` as a tuple if they are increasing percentages ending at 100.

    Raises:
        DeploymentError: they are not.
    """
    values = tuple(int(step) for step in steps)
    if not values or list(values) != sorted(set(values)) or values[0] <= 0 or values[-1] != 100:
        raise DeploymentError(
            f"Canary steps {list(values)} must be increasing percentages ending at 100.",
            hint="Pass e.g. --steps 5,25,50,100.",
            steps=list(values),
        )
    return values


def incumbent_of(deployment: Deployment | None) -> Variant | None:
    """The variant carrying most live traffic now, or ``None`` when nothing is served."""
    if deployment is None or not deployment.live:
        return None
    return max(deployment.live, key=lambda variant: variant.weight)


def sole(model: str, version: int) -> tuple[Variant, ...]:
    """One champion at 100 %."""
    return (Variant(model, version, "champion", 100.0),)


def blue_green(incumbent: Variant, model: str, version: int) -> tuple[Variant, ...]:
    """Green (new) takes 100 % at once; blue (old) stays loaded at 0 % for rollback."""
    return (
        Variant(model, version, "green", 100.0),
        Variant(incumbent.model, incumbent.version, "blue", 0.0),
    )


def canary(incumbent: Variant, model: str, version: int, percent: int) -> tuple[Variant, ...]:
    """Champion at ``100 - percent``, challenger at ``percent``."""
    return (
        Variant(incumbent.model, incumbent.version, "champion", 100.0 - percent),
        Variant(model, version, "challenger", float(percent)),
    )


def shadow(incumbent: Variant, model: str, version: int) -> tuple[Variant, ...]:
    """Champion answers everything; the shadow receives copies (weight 0)."""
    return (
        Variant(incumbent.model, incumbent.version, "champion", 100.0),
        Variant(model, version, "shadow", 0.0),
    )


def ab(incumbent: Variant, model: str, version: int, split: float) -> tuple[Variant, ...]:
    """A (incumbent) at ``100 - split``, B (new) at ``split``."""
    return (
        Variant(incumbent.model, incumbent.version, "a", 100.0 - split),
        Variant(model, version, "b", float(split)),
    )


def candidate_of(deployment: Deployment) -> Variant | None:
    """The variant carrying the new version of an in-progress rollout."""
    role = CANDIDATE_ROLE.get(deployment.strategy)
    return None if role is None else deployment.by_role(role)
