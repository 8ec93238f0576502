"""Deployment records in the metadata store (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from conveyor.core import Actor
from conveyor.deployments._base import BaseDeploymentRecords
from conveyor.deployments._errors import (
    DeploymentError,
    missing_revision_error,
    stale_revision_error,
)
from conveyor.deployments._records import Deployment, Transition, Variant
from conveyor.store import MetadataStore, WriteTx
from conveyor.store._deployment_models import DeploymentRow, DeploymentTransitionRow


class SqlDeploymentRecords(BaseDeploymentRecords):
    """Deployment records in the ``deployments`` and ``deployment_transitions`` tables.

    The current deployment of an environment is one ``deployments`` row, replaced in place;
    each transition is one new ``deployment_transitions`` row that also keeps the whole
    deployment it led to (so :meth:`at_revision` needs no replay). Documents are plain
    JSON, so weights come back exactly as written. A write holds the store's writer lock,
    which makes the revision check and the write one compare-and-set.

    Args:
        store: The metadata store.

    Example:
        >>> records = SqlDeploymentRecords(store)  # doctest: +SKIP
        >>> records.current("production")  # doctest: +SKIP
    """

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"SqlDeploymentRecords({self.store.url!r})"

    def current(self, environment: str) -> Deployment | None:
        with self.store.read() as session:
            row = session.scalars(
                select(DeploymentRow).where(DeploymentRow.environment == environment)
            ).one_or_none()
            return None if row is None else _from_row(row)

    def environments(self) -> list[Deployment]:
        with self.store.read() as session:
            rows = session.scalars(select(DeploymentRow).order_by(DeploymentRow.environment))
            return [_from_row(row) for row in rows]

    def at_revision(self, environment: str, revision: int) -> Deployment:
        of_env = DeploymentTransitionRow.environment == environment
        with self.store.read() as session:
            row = session.scalars(
                select(DeploymentTransitionRow)
                .where(of_env)
                .where(DeploymentTransitionRow.revision == revision)
            ).one_or_none()
            if row is None:
                latest = session.scalar(
                    select(func.max(DeploymentTransitionRow.revision)).where(of_env)
                )
                raise missing_revision_error(environment, revision, latest)
            return _from_snapshot(row)

    def history(self, environment: str) -> list[Transition]:
        with self.store.read() as session:
            rows = session.scalars(
                select(DeploymentTransitionRow)
                .where(DeploymentTransitionRow.environment == environment)
                .order_by(DeploymentTransitionRow.revision)
            )
            return [_transition_from_row(row) for row in rows]

    def history_page(
        self, environment: str, *, offset: int = 0, limit: int = 20, newest_first: bool = True
    ) -> tuple[list[Transition], int]:
        of_env = DeploymentTransitionRow.environment == environment
        order = DeploymentTransitionRow.revision
        with self.store.read() as session:
            total = session.scalar(
                select(func.count()).select_from(DeploymentTransitionRow).where(of_env)
            )
            total = total or 0
            if limit <= 0 or offset >= total:
                return [], total
            rows = session.scalars(
                select(DeploymentTransitionRow)
                .where(of_env)
                .order_by(order.desc() if newest_first else order)
                .offset(max(offset, 0))
                .limit(limit)
            )
            return [_transition_from_row(row) for row in rows], total

    def record_transition(
        self,
        actor: Actor,
        deployment: Deployment,
        transition: Transition,
        *,
        expected_revision: int | None,
    ) -> None:
        _check_pair(deployment, transition, expected_revision)
        environment = deployment.environment

        def apply(tx: WriteTx) -> None:
            row = tx.session.scalars(
                select(DeploymentRow).where(DeploymentRow.environment == environment)
            ).one_or_none()
            found = None if row is None else row.revision
            if found != expected_revision:
                raise stale_revision_error(
                    environment, expected_revision, None if row is None else _from_row(row)
                )
            if row is None:
                row = DeploymentRow(environment=environment)
                tx.session.add(row)
            _fill_row(row, deployment)
            tx.session.add(
                DeploymentTransitionRow(
                    environment=environment,
                    revision=transition.revision,
                    action=transition.action,
                    from_state=transition.from_state,
                    to_state=transition.to_state,
                    variants=[variant.to_dict() for variant in transition.variants],
                    reason=transition.reason,
                    actor=transition.actor,
                    at=transition.at,
                    details={**transition.details, "deployment": _snapshot(deployment)},
                )
            )
            tx.details.update(
                {
                    "revision": deployment.revision,
                    "from_state": transition.from_state,
                    "to_state": deployment.state,
                    "strategy": deployment.strategy,
                    "variants": [variant.to_dict() for variant in deployment.variants],
                    "reason": transition.reason,
                    **transition.details,
                }
            )

        self.store.transact(
            actor, f"deploy.{transition.action}", f"env:{environment}", apply, retries=0
        )


def _check_pair(deployment: Deployment, transition: Transition, expected: int | None) -> None:
    revision = 1 if expected is None else expected + 1
    mismatches = [
        f"{name} {mine!r} != {theirs!r}"
        for name, mine, theirs in (
            ("environment", deployment.environment, transition.environment),
            ("revision", deployment.revision, transition.revision),
            ("state", deployment.state, transition.to_state),
        )
        if mine != theirs
    ]
    if deployment.revision != revision:
        mismatches.append(f"revision {deployment.revision} does not follow {expected}")
    if deployment.updated_at is None:
        mismatches.append("the deployment has no updated_at")
    if mismatches:
        raise DeploymentError(
            f"Transition of {deployment.environment!r} to revision {deployment.revision} "
            f"does not match its deployment: {'; '.join(mismatches)}.",
            hint="Build both from DeploymentStore.transition.",
            environment=deployment.environment,
            revision=deployment.revision,
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
    assert deployment.updated_at is not None  # checked by _check_pair
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


def _from_snapshot(row: DeploymentTransitionRow) -> Deployment:
    snap = row.details["deployment"]
    started = snap.get("step_started_at")
    return Deployment(
        environment=row.environment,
        revision=row.revision,
        strategy=snap["strategy"],
        state=snap["state"],
        variants=tuple(Variant.from_dict(v) for v in snap["variants"]),
        steps=tuple(int(step) for step in snap["steps"]),
        step_index=int(snap["step_index"]),
        step_started_at=None if started is None else datetime.fromisoformat(started),
        stable_revision=snap.get("stable_revision"),
        params=dict(snap.get("params") or {}),
        updated_at=row.at,
        actor=row.actor,
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
