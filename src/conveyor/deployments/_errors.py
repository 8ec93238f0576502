"""Errors of the deployment records."""

from __future__ import annotations

from conveyor.errors import ConveyorError


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
