"""The deployment store: current state per environment, transitions, optimistic concurrency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.core import Actor, utcnow
from conveyor.deployments._base import BaseDeploymentRecords
from conveyor.deployments._errors import DeploymentError, stale_revision_error
from conveyor.deployments._records import (
    STATES,
    STRATEGIES,
    Deployment,
    Transition,
    Variant,
    check_variants,
)
from conveyor.deployments._sql import SqlDeploymentRecords
from conveyor.store import MetadataStore

_CHANGEABLE = frozenset(
    {
        "strategy",
        "state",
        "variants",
        "steps",
        "step_index",
        "step_started_at",
        "stable_revision",
        "params",
    }
)


class DeploymentStore:
    """Deployment records of every environment in the metadata store (``ws.deployments``).

    Thread and process safety: every :meth:`transition` is one atomic, audited write of
    the records that succeeds only if the environment is still at ``expected_revision``,
    so of two controllers acting on the same state exactly one wins; the other gets
    :class:`ConcurrentDeploymentError` naming the state it lost against.

    Args:
        store: The metadata store (``None`` when ``records`` are given).
        actor: Who signs the transitions.
        records: Where the records live (default: :class:`SqlDeploymentRecords` over
            ``store``).

    Raises:
        TypeError: Neither ``store`` nor ``records`` is given.

    Example:
        >>> deployments = DeploymentStore(store, actor=Actor("alice"))  # doctest: +SKIP
        >>> deployments.current("production").live  # doctest: +SKIP
        (Variant(model='churn', version=3, role='champion', weight=100.0),)
    """

    def __init__(
        self,
        store: MetadataStore | None,
        *,
        actor: Actor,
        records: BaseDeploymentRecords | None = None,
    ) -> None:
        if records is None:
            if store is None:
                raise TypeError("DeploymentStore needs a metadata store or records=; got neither.")
            records = SqlDeploymentRecords(store)
        self.store = store
        self.actor = actor
        self.records: BaseDeploymentRecords = records

    def current(self, environment: str) -> Deployment | None:
        """Return the environment's current deployment, or ``None`` if it never had one."""
        return self.records.current(environment)

    def environments(self) -> list[Deployment]:
        """Return the current deployment of every environment that has one, by name."""
        return self.records.environments()

    def get(self, environment: str, revision: int) -> Deployment:
        """Rebuild the deployment as it was at ``revision``.

        Raises:
            DeploymentNotFoundError: the environment has no such revision.
        """
        return self.records.at_revision(environment, revision)

    def history(self, environment: str) -> list[Transition]:
        """Return every transition of the environment, oldest first."""
        return self.records.history(environment)

    def transition(
        self,
        environment: str,
        *,
        expected_revision: int | None,
        action: str,
        reason: str,
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
        **changes: Any,
    ) -> Deployment:
        """Move the environment's deployment to a new revision, atomically and audited.

        Args:
            environment: The environment.
            expected_revision: The revision the caller based its decision on (``None`` when
                the environment has no deployment yet).
            action: What happened (``deploy``, ``advance``, ``promote``, ``rollback``...);
                audited as ``deploy.<action>`` on target ``env:<environment>``.
            reason: Why, in words (kept in the history and the audit log).
            details: Extra JSON recorded with the transition (analysis measures...).
            at: When (defaults to now); also the new ``updated_at``.
            **changes: New values of ``strategy``, ``state``, ``variants``, ``steps``,
                ``step_index``, ``step_started_at``, ``stable_revision``, ``params``;
                unchanged fields keep their value. The first deployment needs
                ``strategy``, ``state`` and ``variants``.

        Returns:
            The deployment at the new revision (old revision + 1).

        Raises:
            ConcurrentDeploymentError: the environment is not at ``expected_revision``.
            DeploymentError: a change is unknown or invalid.
        """
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise DeploymentError(
                f"Unknown deployment fields {sorted(unknown)}.",
                hint=f"Change only {sorted(_CHANGEABLE)}.",
                fields_=sorted(unknown),
            )
        when = at or utcnow()
        current = self.records.current(environment)
        actual = None if current is None else current.revision
        if actual != expected_revision:
            raise stale_revision_error(environment, expected_revision, current)
        new = _next_state(environment, current, changes, when, self.actor.name)
        change = Transition(
            environment=environment,
            revision=new.revision,
            action=action,
            from_state=None if current is None else current.state,
            to_state=new.state,
            variants=new.variants,
            reason=reason,
            actor=self.actor.name,
            at=when,
            details=dict(details or {}),
        )
        # The records check the revision again under their own lock: a writer that slipped
        # in since the read above makes this raise ConcurrentDeploymentError.
        self.records.record_transition(self.actor, new, change, expected_revision=expected_revision)
        return new


def _next_state(
    environment: str,
    current: Deployment | None,
    changes: dict[str, Any],
    when: datetime,
    actor: str,
) -> Deployment:
    if current is None:
        missing = {"strategy", "state", "variants"} - set(changes)
        if missing:
            raise DeploymentError(
                f"The first deployment of {environment!r} needs {sorted(missing)}.",
                hint="Pass strategy, state and variants.",
                environment=environment,
            )
    base: dict[str, Any] = (
        {} if current is None else {name: getattr(current, name) for name in _CHANGEABLE}
    )
    merged = {**base, **changes}
    variants = tuple(
        v if isinstance(v, Variant) else Variant.from_dict(v) for v in merged["variants"]
    )
    check_variants(variants, allow_idle=merged["state"] == "awaiting_approval")
    if merged["strategy"] not in STRATEGIES:
        raise DeploymentError(
            f"Strategy {merged['strategy']!r} is not one of {', '.join(STRATEGIES)}.",
            hint="Choose a supported strategy.",
            strategy=merged["strategy"],
        )
    if merged["state"] not in STATES:
        raise DeploymentError(
            f"State {merged['state']!r} is not one of {', '.join(STATES)}.",
            hint="Use a documented state.",
            state=merged["state"],
        )
    return Deployment(
        environment=environment,
        revision=1 if current is None else current.revision + 1,
        strategy=str(merged["strategy"]),
        state=str(merged["state"]),
        variants=variants,
        steps=tuple(int(step) for step in merged.get("steps") or ()),
        step_index=int(merged.get("step_index") or 0),
        step_started_at=merged.get("step_started_at"),
        stable_revision=merged.get("stable_revision"),
        params=dict(merged.get("params") or {}),
        updated_at=when,
        actor=actor,
    )
