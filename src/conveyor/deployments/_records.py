"""Value objects of the deployment records: variants, deployments and transitions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.core import isoformat
from conveyor.deployments._errors import DeploymentError

#: Strategies a deployment can follow.
STRATEGIES = ("replace", "blue-green", "canary", "shadow", "ab")
#: Roles a variant can play.
ROLES = ("champion", "challenger", "shadow", "blue", "green", "a", "b")
#: States a deployment can be in. ``stable``: one live variant (plus possibly a warm
#: standby at 0 %), nothing in progress; ``progressing``: a canary, shadow or A/B test is
#: running; ``paused``: a rollout frozen at its current weights; ``awaiting_approval``: a
#: deploy waiting for ``approve`` (traffic unchanged); ``rolled_back`` / ``promoted``:
#: terminal outcomes of a rollout, each serving one live variant at 100 % like ``stable``.
STATES = ("stable", "progressing", "paused", "awaiting_approval", "rolled_back", "promoted")
#: States in which a rollout is in progress (a new deploy to the environment is refused).
IN_PROGRESS_STATES = ("progressing", "paused", "awaiting_approval")
_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Variant:
    """One model version taking part in a deployment.

    Attributes:
        model: Registered model name.
        version: Registered version number.
        role: One of :data:`ROLES`.
        weight: Percent of live traffic (0-100). A ``shadow`` variant has weight 0 and
            receives copies of requests; a 0 % variant never answers a request.
    """

    model: str
    version: int
    role: str
    weight: float

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise DeploymentError(
                f"Variant role {self.role!r} is not one of {', '.join(ROLES)}.",
                hint="Use a supported role.",
                role=self.role,
            )
        if not math.isfinite(self.weight) or not 0.0 <= self.weight <= 100.0:
            raise DeploymentError(
                f"Variant {self.ref} has weight {self.weight!r}; weights are percent in 0-100.",
                hint="Pass a weight between 0 and 100.",
                weight=self.weight,
            )
        if self.role == "shadow" and self.weight != 0:
            raise DeploymentError(
                f"Shadow variant {self.ref} has weight {self.weight}; shadows get copies only.",
                hint="Give the shadow variant weight 0.",
                weight=self.weight,
            )
        object.__setattr__(self, "weight", float(self.weight))

    @property
    def ref(self) -> str:
        """``model@version``."""
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in the records."""
        return {
            "model": self.model,
            "version": self.version,
            "role": self.role,
            "weight": self.weight,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        """Rebuild a variant from :meth:`to_dict` output."""
        return cls(
            str(data["model"]), int(data["version"]), str(data["role"]), float(data["weight"])
        )


def check_variants(variants: tuple[Variant, ...], *, allow_idle: bool = False) -> None:
    """Raise :class:`DeploymentError` unless the live weights sum to 100 and roles are unique.

    Args:
        variants: The variants of one deployment.
        allow_idle: Also accept weights summing to 0 (a first deploy awaiting approval
            serves nothing yet).
    """
    if not variants:
        raise DeploymentError(
            "A deployment needs at least one variant.", hint="Pass the variants to serve."
        )
    roles = [variant.role for variant in variants]
    if len(set(roles)) != len(roles):
        raise DeploymentError(
            f"Variant roles must be unique in a deployment; got {roles}.",
            hint="Give each variant its own role.",
            roles=roles,
        )
    total = sum(variant.weight for variant in variants)
    if abs(total - 100.0) > _WEIGHT_TOLERANCE and not (allow_idle and total == 0):
        raise DeploymentError(
            f"Live weights of {[v.ref for v in variants]} sum to {total:g} %, not 100 %.",
            hint="Make the weights of the live variants add up to 100.",
            total=total,
        )


@dataclass(frozen=True)
class Deployment:
    """The state of one environment's deployment at one revision (immutable).

    Attributes:
        environment: Environment name (``production``).
        revision: Increases by one with every transition, starting at 1.
        strategy: One of :data:`STRATEGIES`.
        state: One of :data:`STATES`.
        variants: Every variant, live or not, in routing order.
        steps: Canary traffic steps in percent (empty for other strategies).
        step_index: Index into ``steps`` of the current canary step.
        step_started_at: When the current step (or state) started.
        stable_revision: The revision a rollback returns to (the last stable one).
        params: Strategy parameters (thresholds, ``split``, ``sticky_key``, reasons...).
        updated_at: When this revision was written.
        actor: Who wrote it.
    """

    environment: str
    revision: int
    strategy: str
    state: str
    variants: tuple[Variant, ...]
    steps: tuple[int, ...] = ()
    step_index: int = 0
    step_started_at: datetime | None = None
    stable_revision: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None
    actor: str = ""

    @property
    def live(self) -> tuple[Variant, ...]:
        """The variants that answer requests (weight above 0)."""
        return tuple(variant for variant in self.variants if variant.weight > 0)

    @property
    def full(self) -> Variant | None:
        """The variant answering 100 % of live traffic, or ``None`` while traffic is split.

        This is the version an environment *serves*: after a replace, a promotion or a
        rollback, or the green side of a blue-green switch; during a canary or an A/B
        split no single version does.
        """
        live = self.live
        if len(live) == 1 and abs(live[0].weight - 100.0) <= _WEIGHT_TOLERANCE:
            return live[0]
        return None

    @property
    def shadow(self) -> Variant | None:
        """The shadow variant that receives request copies, if any."""
        return self.by_role("shadow")

    def by_role(self, role: str) -> Variant | None:
        """Return the variant playing ``role``, or ``None``."""
        return next((variant for variant in self.variants if variant.role == role), None)

    @property
    def in_progress(self) -> bool:
        """Whether a rollout is under way (progressing, paused or awaiting approval)."""
        return self.state in IN_PROGRESS_STATES

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view (for ``--json`` output and webhooks)."""
        return {
            "environment": self.environment,
            "revision": self.revision,
            "strategy": self.strategy,
            "state": self.state,
            "variants": [variant.to_dict() for variant in self.variants],
            "steps": list(self.steps),
            "step_index": self.step_index,
            "step_started_at": _iso(self.step_started_at),
            "stable_revision": self.stable_revision,
            "params": self.params,
            "updated_at": _iso(self.updated_at),
            "actor": self.actor,
        }

    def describe(self) -> str:
        """One line: revision, strategy, state and weights (used in error messages)."""
        weights = ", ".join(f"{v.ref} {v.role} {v.weight:g}%" for v in self.variants)
        return f"revision {self.revision} ({self.strategy}, {self.state}): {weights}"


@dataclass(frozen=True)
class Transition:
    """One recorded transition: how revision ``revision`` of an environment came about."""

    environment: str
    revision: int
    action: str
    from_state: str | None
    to_state: str
    variants: tuple[Variant, ...]
    reason: str
    actor: str
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "environment": self.environment,
            "revision": self.revision,
            "action": self.action,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "variants": [variant.to_dict() for variant in self.variants],
            "reason": self.reason,
            "actor": self.actor,
            "at": isoformat(self.at),
            "details": self.details,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)
