"""Routing a request to a variant: weighted choice, sticky by a hashed key.

Pure functions shared by the server's router and the rollout simulator, so both route
exactly alike. The choice walks the live variants in their stored order along cumulative
weights; a 0 % variant owns an empty interval and can never be chosen.
"""

from __future__ import annotations

from blake3 import blake3

from conveyor.deployments._errors import DeploymentError
from conveyor.deployments._records import Deployment, Variant

_HASH_BYTES = 8
_HASH_SPAN = float(2 ** (8 * _HASH_BYTES))


def key_fraction(key: str) -> float:
    """Map a sticky key to a number in ``[0, 1)`` that is the same on every machine.

    blake3 of the UTF-8 key, first 8 bytes as a big-endian integer over 2**64. Unlike
    Python's ``hash`` this does not change between processes, so the same user lands on
    the same variant across server workers and restarts.

    Example:
        >>> key_fraction("user-42") == key_fraction("user-42")
        True
    """
    digest = blake3(key.encode("utf-8")).digest(length=_HASH_BYTES)
    return int.from_bytes(digest, "big") / _HASH_SPAN


def choose_variant(deployment: Deployment, key: str | None, rnd: float) -> Variant:
    """Pick the live variant that answers one request.

    Args:
        deployment: The environment's current deployment.
        key: The request's sticky key (header value or input column value), or ``None``.
            With a key, ``rnd`` is ignored and the position comes from :func:`key_fraction`.
        rnd: A uniform number in ``[0, 1)`` used when there is no key.

    Returns:
        The chosen variant; never one with weight 0.

    Raises:
        DeploymentError: the deployment has no live variant, or ``rnd`` is outside [0, 1).

    Example:
        >>> choose_variant(deployment, None, 0.03).role  # doctest: +SKIP
        'challenger'
    """
    live = deployment.live
    if not live:
        raise DeploymentError(
            f"Deployment of {deployment.environment!r} at revision {deployment.revision} "
            "has no variant with weight above 0.",
            hint="Roll back or deploy a version to this environment.",
            environment=deployment.environment,
            revision=deployment.revision,
        )
    position = key_fraction(key) if key is not None else rnd
    if not 0.0 <= position < 1.0:
        raise DeploymentError(
            f"Routing number {position!r} is outside [0, 1).",
            hint="Pass random.random() or a key.",
            rnd=position,
        )
    point = position * sum(variant.weight for variant in live)
    cumulative = 0.0
    for variant in live:
        cumulative += variant.weight
        if point < cumulative:
            return variant
    # Float rounding can leave ``point`` a hair above the last boundary.
    return live[-1]
