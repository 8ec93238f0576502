"""Errors of the infrastructure exports."""

from __future__ import annotations

from conveyor.errors import ConfigError, ConveyorError

__all__ = ["ExportError", "NoDeploymentError", "OutputNotOwnedError", "SecretInConfigError"]


class ExportError(ConveyorError):
    """An export cannot be written as asked."""

    code = "export_error"


class NoDeploymentError(ExportError, LookupError):
    """The environment has never been deployed: there is nothing to serve."""

    code = "no_deployment"


class SecretInConfigError(ConfigError):
    """``conveyor.yaml`` holds a secret value, which must not land in a ConfigMap."""

    code = "secret_in_config"


class OutputNotOwnedError(ExportError, FileExistsError):
    """The output holds files an export did not write; they are never overwritten."""

    code = "output_not_owned"
