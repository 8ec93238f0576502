"""The deployment store: current state per environment, transitions, optimistic concurrency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from conveyor.core import Actor, utcnow
from conveyor.deployments._errors import (
    ConcurrentDeploymentError,
    DeploymentError,
    DeploymentNotFoundError,
)
from conveyor.deployments._records import (
    STATES,
    STRATEGIES,
    Deployment,
    Transition,
    Variant,
    check_variants,
)
from conveyor.store import DeploymentRow, DeploymentTransitionRow, MetadataStore, WriteTx

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

    Thread and process safety: every :meth:`transition` runs in one audited write
    transaction and succeeds only if the environment is still at ``expected_revision``,
    so of two controllers acting on the same state exactly one wins; the other gets
    :class:`ConcurrentDeploymentError` naming the state it lost against.

    Args:
        store: The metadata store.
        actor: Who signs the transitions.

    Example:
        >>> deployments = DeploymentStore(store, actor=Actor("alice"))  # doctest: +SKIP
        >>> deployments.current("production").live  # doctest: +SKIP
        (Variant(model='churn', version=3, role='champion', weight=100.0),)
    """

    def __init__(self, store: MetadataStore, *, actor: Actor) -> None:
        self.store = store
        self.actor = actor

    def current(self, environment: str) -> Deployment | None:
        """Return the environment's current deployment, or ``None`` if it never had one."""
        with self.store.read() as session:
            row = session.scalars(
                select(DeploymentRow).where(DeploymentRow.environment == environment)
            ).one_or_none()
            return None if row is None else _from_row(row)

    def environments(self) -> list[Deployment]:
        """Return the current deployment of every environment that has one, by name."""
        with self.store.read() as session:
            rows = session.scalars(select(DeploymentRow).order_by(DeploymentRow.environment))
            return [_from_row(row) for row in rows]

    def get(self, environment: str, revision: int) -> Deployment:
        """Rebuild the deployment as it was at ``revision``.

        Raises:
            DeploymentNotFoundError: the environment has no such revision.
        """
        with self.store.read() as session:
            rows = list(
                session.scalars(
                    select(DeploymentTransitionRow)
                    .where(DeploymentTransitionRow.environment == environment)
                    .where(DeploymentTransitionRow.revision <= revision)
                    .order_by(DeploymentTransitionRow.revision)
                )
            )
        if not rows or rows[-1].revision != revision:
            latest = rows[-1].revision if rows else None
            raise DeploymentNotFoundError(
                f"Environment {environment!r} has no deployment revision {revision}"
                + (f"; revisions run 1-{latest}." if latest else "; it was never deployed."),
                hint=f"Run `conveyor deployments history --env {environment}`.",
                environment=environment,
                revision=revision,
            )
        return _replay(rows)

    def history(self, environment: str) -> list[Transition]:
        """Return every transition of the environment, oldest first."""
        with self.store.read() as session:
            rows = session.scalars(
                select(DeploymentTransitionRow)
                .where(DeploymentTransitionRow.environment == environment)
                .order_by(DeploymentTransitionRow.revision)
            )
            return [_transition_from_row(row) for row in rows]

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
        extra = dict(details or {})

        def apply(tx: WriteTx) -> Deployment:
            row = tx.session.scalars(
                select(DeploymentRow).where(DeploymentRow.environment == environment)
            ).one_or_none()
            current = None if row is None else _from_row(row)
            _check_expected(environment, expected_revision, current)
            new = _next_state(environment, current, changes, when, self.actor.name)
            if row is None:
                row = DeploymentRow(environment=environment)
                tx.session.add(row)
            _fill_row(row, new)
            tx.session.add(
                DeploymentTransitionRow(
                    environment=environment,
                    revision=new.revision,
                    action=action,
                    from_state=None if current is None else current.state,
                    to_state=new.state,
                    variants=[variant.to_dict() for variant in new.variants],
                    reason=reason,
                    actor=self.actor.name,
                    at=when,
                    details={**extra, "deployment": _snapshot(new)},
                )
            )
            tx.details.update(
                {
                    "revision": new.revision,
                    "from_state": None if current is None else current.state,
                    "to_state": new.state,
                    "strategy": new.strategy,
                    "variants": [variant.to_dict() for variant in new.variants],
                    "reason": reason,
                    **extra,
                }
            )
            return new

        return self.store.transact(
            self.actor, f"deploy.{action}", f"env:{environment}", apply, retries=0
        )


def _check_expected(environment: str, expected: int | None, current: Deployment | None) -> None:
    actual = None if current is None else current.revision
    if actual == expected:
        return
    shown = "no deployment" if current is None else current.describe()
    raise ConcurrentDeploymentError(
        f"Deployment of {environment!r} changed concurrently: expected revision "
        f"{expected}, found {shown}.",
        hint=f"Run `conveyor deployments status --env {environment}` and act on the current state.",
        environment=environment,
        expected_revision=expected,
        current_revision=actual,
        current_state=None if current is None else current.state,
    )


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


def _fill_row(row: DeploymentRow, deployment: Deployment) -> None:
    row.revision = deployment.revision
    row.strategy = deployment.strategy
    row.state = deployment.state
    row.variants = [variant.to_dict() for variant in deployment.variants]
    row.steps = list(deployment.steps)
    row.step_index = deployment.step_index
    row.step_started_at = deployment.step_started_at
    row.stable_revision = deployment.stable_revision
    row.params = deployment.params
    assert deployment.updated_at is not None  # always set by _next_state
    row.updated_at = deployment.updated_at
    row.actor = deployment.actor


def _from_row(row: DeploymentRow) -> Deployment:
    return Deployment(
        environment=row.environment,
        revision=row.revision,
        strategy=row.strategy,
        state=row.state,
        variants=tuple(Variant.from_dict(v) for v in row.variants),
        steps=tuple(int(step) for step in row.steps),
        step_index=row.step_index,
        step_started_at=row.step_started_at,
        stable_revision=row.stable_revision,
        params=dict(row.params),
        updated_at=row.updated_at,
        actor=row.actor,
    )


def _snapshot(deployment: Deployment) -> dict[str, Any]:
    # The whole state is kept with each transition so any revision can be rebuilt
    # (rollback --to N) without replaying partial changes.
    data = deployment.to_dict()
    data["step_started_at"] = (
        None if deployment.step_started_at is None else deployment.step_started_at.isoformat()
    )
    return data


def _replay(rows: list[DeploymentTransitionRow]) -> Deployment:
    last = rows[-1]
    snap = last.details["deployment"]
    started = snap.get("step_started_at")
    return Deployment(
        environment=last.environment,
        revision=last.revision,
        strategy=snap["strategy"],
        state=snap["state"],
        variants=tuple(Variant.from_dict(v) for v in snap["variants"]),
        steps=tuple(int(step) for step in snap["steps"]),
        step_index=int(snap["step_index"]),
        step_started_at=None if started is None else datetime.fromisoformat(started),
        stable_revision=snap.get("stable_revision"),
        params=dict(snap.get("params") or {}),
        updated_at=last.at,
        actor=last.actor,
    )


def _transition_from_row(row: DeploymentTransitionRow) -> Transition:
    details = {key: value for key, value in row.details.items() if key != "deployment"}
    return Transition(
        environment=row.environment,
        revision=row.revision,
        action=row.action,
        from_state=row.from_state,
        to_state=row.to_state,
        variants=tuple(Variant.from_dict(v) for v in row.variants),
        reason=row.reason,
        actor=row.actor,
        at=row.at,
        details=details,
    )
