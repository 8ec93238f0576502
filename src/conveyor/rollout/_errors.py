"""Errors of the deployment controller: refused deploys and actions with nothing to act on."""

from __future__ import annotations

from conveyor.deployments import DeploymentError
from conveyor.errors import ConfigError


class EnvironmentNotFoundError(ConfigError, KeyError):
    """The environment is not declared under ``environments:`` in ``conveyor.yaml``."""

    code = "environment_not_found"


class DeployRefusedError(DeploymentError):
    """A deploy was refused (archived version, gate REJECT, version not loadable...)."""

    code = "deploy_refused"


class DeploymentInProgressError(DeployRefusedError):
    """A rollout is already under way in the environment; ``fields`` holds its state."""

    code = "deployment_in_progress"
    status = 409


class GateRejectedError(DeployRefusedError):
    """The version's latest gate decision is REJECT and no ``force_reason`` was given."""

    code = "gate_rejected"


class SignatureRequiredError(DeployRefusedError):
    """The environment requires a signature and the version has no valid one from a
    configured key; ``--force-reason`` does not lift it."""

    code = "signature_required"


class VersionNotReadyError(DeployRefusedError):
    """The version could not be loaded, or its smoke prediction on the input example failed."""

    code = "version_not_ready"


class VersionTamperedError(VersionNotReadyError):
    """A file the server would load failed its hash check: nothing was deployed (exit 3)."""

    code = "version_tampered"
    exit_code = 3


class NothingToDoError(DeploymentError):
    """A promote, rollback, pause, resume or approve found nothing to act on."""

    code = "nothing_to_do"
    status = 409
