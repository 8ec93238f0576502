"""Errors of the deployment records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from conveyor.deployments._records import Deployment


class DeploymentError(ConveyorError):
    """A deployment record or transition is invalid (bad state, weights or variants)."""

    code = "deployment_error"


class DeploymentNotFoundError(DeploymentError, KeyError):
    """An environment has no deployment yet, or a revision of it does not exist."""

    code = "deployment_not_found"


class ConcurrentDeploymentError(DeploymentError):
    """Another writer changed the environment's deployment since it was read.

    ``fields`` carries ``environment``, ``expected_revision``, ``current_revision`` and
    ``current_state`` so the caller can show what it lost against.
    """

    code = "concurrent_deployment"
    status = 409


def stale_revision_error(
    environment: str, expected: int | None, current: Deployment | None
) -> ConcurrentDeploymentError:
    """The error for a writer that based its change on ``expected`` but found ``current``."""
    shown = "no deployment" if current is None else current.describe()
    return ConcurrentDeploymentError(
        f"Deployment of {environment!r} changed concurrently: expected revision "
        f"{expected}, found {shown}.",
        hint=f"Run `conveyor deployments status --env {environment}` and act on the current state.",
        environment=environment,
        expected_revision=expected,
        current_revision=None if current is None else current.revision,
        current_state=None if current is None else current.state,
    )


def missing_revision_error(
    environment: str, revision: int, latest: int | None
) -> DeploymentNotFoundError:
    """The error for a revision ``environment`` never reached (``latest``: its newest one)."""
    return DeploymentNotFoundError(
        f"Environment {environment!r} has no deployment revision {revision}"
        + (f"; revisions run 1-{latest}." if latest else "; it was never deployed."),
        hint=f"Run `conveyor deployments history --env {environment}`.",
        environment=environment,
        revision=revision,
    )
