"""What every Kubernetes export reads once: the environment, its deployment, the names,
the image and ``conveyor.yaml`` (refused when it carries a secret)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.config import dump_config
from conveyor.core import is_secret_field, redact
from conveyor.deployments import Deployment, Variant
from conveyor.errors import ConfigError
from conveyor.infra._errors import NoDeploymentError, SecretInConfigError
from conveyor.infra._names import k8s_name
from conveyor.rollout import EnvironmentNotFoundError

if TYPE_CHECKING:
    from conveyor.config import EnvironmentConfig
    from conveyor.config._kubernetes import KubernetesConfig
    from conveyor.workspace import Workspace

# Each part of a composite name is cut to this, so "<project>-<env>-monitor" stays within
# the 52 characters a CronJob name may have.
_PART_MAX = 20
# storage_options keys of fsspec backends that hold credentials (s3fs: key/secret/token).
_STORAGE_SECRETS = frozenset({"key", "secret", "token", "password", "account_key", "sas_token"})


@dataclass(frozen=True)
class ExportContext:
    """The inputs of one export, read and checked once.

    Attributes:
        env: The environment name as configured.
        environment: Its configuration (strategy, steps).
        deployment: Its current deployment.
        kubernetes: The ``kubernetes:`` section.
        image: The container image of every pod.
        project: The project name.
        prefix: The project name as a name part (``shop``).
        env_part: The environment name as a name part (``production``).
        config_text: ``conveyor.yaml`` as the ConfigMap carries it.
        config_hash: A short hash of it (pods roll when it changes).
        settings: The configuration, whole.
    """

    env: str
    environment: EnvironmentConfig
    deployment: Deployment
    kubernetes: KubernetesConfig
    image: str
    project: str
    prefix: str
    env_part: str
    config_text: str
    config_hash: str
    settings: Any

    def name(self, suffix: str = "", *, per_env: bool = False) -> str:
        """A resource name: ``<project>[-<env>]<suffix>``, each part mapped by ``k8s_name``."""
        base = f"{self.prefix}-{self.env_part}" if per_env else self.prefix
        return base + suffix

    def labels(self, component: str, *, per_env: bool = False) -> dict[str, str]:
        """The ``app.kubernetes.io/*`` labels of one component."""
        labels = {
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/instance": self.name(per_env=per_env),
            "app.kubernetes.io/managed-by": "conveyor",
            "app.kubernetes.io/name": "conveyor",
            "app.kubernetes.io/part-of": self.prefix,
        }
        if per_env:
            labels["conveyor.dev/environment"] = self.env_part
        return labels

    def selector(self, component: str, *, per_env: bool = False) -> dict[str, str]:
        """The labels a Service, PDB or Deployment selects one component's pods by."""
        labels = self.labels(component, per_env=per_env)
        keep = ("app.kubernetes.io/component", "app.kubernetes.io/instance")
        return {key: labels[key] for key in keep}

    @property
    def served(self) -> Variant:
        """The version a single-model server should run: the canary challenger while a
        canary is under way, else the variant with the most traffic."""
        challenger = self.deployment.by_role("challenger")
        if self.deployment.strategy == "canary" and self.deployment.in_progress and challenger:
            return challenger
        return max(self.deployment.variants, key=lambda v: (v.weight, v.version))


def read_context(ws: Workspace, env: str, *, image: str | None) -> ExportContext:
    """Read and check what an export of ``env`` needs.

    Raises:
        EnvironmentNotFoundError: ``env`` is not under ``environments:``.
        NoDeploymentError: ``env`` has no deployment yet.
        SecretInConfigError: ``conveyor.yaml`` holds a secret value.
        ConfigError: no image is given or configured.
    """
    config = ws.settings.config
    known = config.environments
    if env not in known:
        raise EnvironmentNotFoundError(
            f"Environment {env!r} is not configured. Environments: "
            f"{', '.join(sorted(known)) or 'none'}.",
            hint="Pick one of them, or declare it under `environments:` in conveyor.yaml.",
            environment=env,
            environments=sorted(known),
        )
    deployment = ws.deployments.current(env)
    if deployment is None:
        raise NoDeploymentError(
            f"Environment {env!r} has no deployment: there is no model to serve there.",
            hint=f"Deploy a version first: `conveyor deploy NAME@VERSION --env {env}`.",
            environment=env,
        )
    chosen = image or config.kubernetes.image
    if not chosen:
        raise ConfigError(
            f"No container image for the export of {env!r}.",
            hint="Pass --image (e.g. the one `conveyor build` made), or set "
            "`kubernetes: {image: ...}` in conveyor.yaml.",
            environment=env,
        )
    text = _config_text(ws)
    check_no_secrets(yaml.safe_load(text) or {})
    return ExportContext(
        env=env,
        environment=known[env],
        deployment=deployment,
        kubernetes=config.kubernetes,
        image=chosen,
        project=config.project.name,
        prefix=k8s_name(config.project.name, max_len=_PART_MAX),
        env_part=k8s_name(env, max_len=_PART_MAX),
        config_text=text,
        config_hash=hashlib.sha256(text.encode()).hexdigest()[:16],
        settings=config,
    )


def check_no_secrets(data: Mapping[str, Any]) -> None:
    """Raise :class:`SecretInConfigError` if the configuration holds a secret value.

    A value is a secret when its key says so (``password``, ``token``, ``api_key``, ...,
    and ``key``/``secret`` under ``storage_options``) or when it carries one (a URL with a
    password or a token in its query): what :func:`conveyor.core.redact` would hide.

    Example:
        >>> check_no_secrets({"store": {"metadata_url": "postgresql://u@db/x"}})
    """
    for dotted, key, value in _leaves(data, ()):
        if value in (None, ""):
            continue
        storage = "storage_options" in dotted and key.lower() in _STORAGE_SECRETS
        by_name = is_secret_field(key) or storage
        if by_name or (isinstance(value, str) and redact(value) != value):
            where = ".".join(dotted)
            variable = _variable_for(dotted)
            raise SecretInConfigError(
                f"conveyor.yaml holds a secret at {where!r}; the exported ConfigMap would "
                "carry it in clear text.",
                hint=f"Remove it from conveyor.yaml and set {variable} from the Secret "
                "(see secrets.example.env in the export), then export again.",
                key=where,
            )


def _variable_for(dotted: tuple[str, ...]) -> str:
    known = {
        ("store", "metadata_url"): "CONVEYOR_METADATA_URL",
        ("store", "artifact_url"): "CONVEYOR_ARTIFACT_URL",
        ("store", "remote_url"): "CONVEYOR_REMOTE_URL",
        ("store", "server_url"): "CONVEYOR_SERVER_URL",
        ("features", "online_url"): "CONVEYOR_ONLINE_URL",
    }
    head = (dotted[0], dotted[1]) if len(dotted) > 1 else ("", "")
    if head in known:
        return known[head]
    if any("[" in part for part in dotted):
        return "an environment variable the configuration names"
    if head == ("store", "storage_options"):
        return "the backend's own variable (e.g. AWS_SECRET_ACCESS_KEY)"
    return "CONVEYOR_" + "__".join(part.upper() for part in dotted)


def _leaves(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list):
                yield from _leaves(item, (*path, str(key)))
            else:
                yield (*path, str(key)), str(key), item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            key = path[-1] if path else ""
            if isinstance(item, Mapping | list):
                yield from _leaves(item, (*path[:-1], f"{key}[{index}]"))
            else:
                yield (*path[:-1], f"{key}[{index}]"), key, item


def _config_text(ws: Workspace) -> str:
    """``conveyor.yaml`` as written (comments kept), or the defaults when there is none.

    ``CONVEYOR_*`` variables of the exporting shell are deliberately left out: they may
    hold secrets, and the cluster sets its own.
    """
    path = ws.settings.config_file
    if path is not None:
        return path.read_text(encoding="utf-8")
    return dump_config(ws.settings.config)
