"""The pydantic model of ``conveyor.yaml``.

Later capabilities add their own top-level sections (``pipelines``, ``gates``,
``environments``, ``monitoring``, ``triggers``, ``webhooks``) as fields of
:class:`ConveyorConfig`; unknown keys are errors everywhere so typos never pass silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from conveyor.config._cost import CostConfig
from conveyor.config._kubernetes import KubernetesConfig
from conveyor.config._operations import (
    EnvironmentConfig,
    MonitoringConfig,
    TriggerConfig,
    WebhooksConfig,
)
from conveyor.config._security import (
    PredictionsConfig,
    ServerConfig,
    ServingAuthConfig,
    SigningConfig,
)
from conveyor.core import validate_name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ProjectConfig(_Section):
    """``project:`` what this project is called."""

    name: str = "conveyor-project"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_name(value, kind="project name")


class EncryptionConfig(_Section):
    """``store.encryption:`` encryption at rest for new artifacts.

    The master key itself never lives in ``conveyor.yaml``: it comes from the
    ``CONVEYOR_MASTER_KEY`` environment variable (64 hex digits or base64 of 32 bytes)
    or from ``key_file``.
    """

    enabled: bool = False
    key_file: str | None = None


class StoreConfig(_Section):
    """``store:`` where metadata and artifacts live.

    Relative paths and ``sqlite:///relative.db`` URLs are resolved against the project root.
    """

    metadata_url: str = "sqlite:///.conveyor/conveyor.db"
    artifact_url: str = ".conveyor/artifacts"
    remote_url: str | None = Field(
        default=None, description="Default remote for `conveyor data push|pull`."
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec options for artifact and remote URLs (e.g. endpoint_url for S3).",
    )
    busy_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    encryption: EncryptionConfig = EncryptionConfig()
    server_url: str | None = Field(
        default=None,
        description="A team server (`conveyor server`) that holds this project's records and "
        "artifacts; with it (and CONVEYOR_TOKEN) no database or bucket is configured here.",
    )

    @field_validator("metadata_url")
    @classmethod
    def _metadata_url(cls, value: str) -> str:
        allowed = ("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")
        if not value.startswith(allowed):
            raise ValueError("expected a SQLAlchemy URL starting with sqlite:/// or postgresql://")
        return value

    @field_validator("artifact_url", "remote_url")
    @classmethod
    def _artifact_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("expected a folder path or a URL such as s3://bucket/prefix")
        return value


class PipelinesConfig(_Section):
    """``pipelines:`` which pipeline ``conveyor ci`` runs, and its parameters."""

    training: str | None = Field(
        default=None,
        description="MODULE:PIPELINE of the training pipeline (e.g. pipelines:training).",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Pipeline parameters.")

    @field_validator("training")
    @classmethod
    def _training(cls, value: str | None) -> str | None:
        if value is not None:
            module, sep, attr = value.partition(":")
            if not (sep and module.strip() and attr.strip()):
                raise ValueError("expected MODULE:PIPELINE, e.g. pipelines:training")
        return value


class EvaluationConfig(_Section):
    """``evaluation:`` where ``conveyor ci`` finds the candidate and its holdout in a run."""

    model: str | None = Field(default=None, description="Registry name of the candidate.")
    model_step: str | None = Field(default=None, description="Step whose output is the model.")
    holdout_step: str | None = Field(default=None, description="Step holding the holdout.")
    holdout_output: int = Field(default=0, ge=0, description="Index of that step's output.")
    target: str | None = Field(default=None, description="Label column of the holdout.")
    positive_label: str | int | float | bool | None = None
    sensitive: tuple[str, ...] = ()
    slices: tuple[str, ...] = ()
    irrelevant: tuple[str, ...] = ()
    metrics_step: str | None = Field(
        default=None,
        description="Step whose logged metrics are the model version's evaluation metrics "
        "(default: found from the run tree).",
    )
    champion_env: str = Field(
        default="production",
        description="Environment whose version serving 100 % is the champion gates compare "
        "against; the `champion` alias follows this environment only.",
    )
    require_champion: bool = Field(
        default=False,
        description="Refuse to judge a candidate on absolute checks alone: no champion in "
        "`champion_env` is a configuration error instead of a PROMOTE.",
    )

    @field_validator("champion_env")
    @classmethod
    def _champion_env(cls, value: str) -> str:
        return validate_name(value, kind="environment name")

    @field_validator("model")
    @classmethod
    def _model(cls, value: str | None) -> str | None:
        return None if value is None else validate_name(value, kind="model name")


class GateConfig(_Section):
    """One entry of ``gates:``: a registered check, its params and its severity.

    Check names and params are validated against the checks registry by
    ``conveyor.checks.validate_config`` (run by ``conveyor config validate``).
    """

    check: str
    params: dict[str, Any] = Field(default_factory=dict)
    severity: Literal["error", "warning"] | None = None


class RunsConfig(_Section):
    """``runs:`` how tracked runs are kept alive and when a dead one is failed.

    A running pipeline records a heartbeat every quarter of ``heartbeat_timeout_s`` (at
    most every 5 seconds); a running or pending run that shows none for
    ``heartbeat_timeout_s`` seconds is taken for dead (its process was killed) and
    failed the next time runs are listed, so it can be resumed. Raise it when runs share
    a database with slow links; lower it to reap killed runs sooner. Environment
    override: ``CONVEYOR_HEARTBEAT_TIMEOUT_S``.
    """

    heartbeat_timeout_s: float = Field(
        default=60.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds without a heartbeat after which a live run is failed as dead.",
    )


class FeaturesConfig(_Section):
    """``features:`` the feature store: where definitions live and the online store.

    ``definitions`` names the Python file (relative to the project folder) whose
    ``Entity``, ``FeatureView`` and ``FeatureService`` objects ``conveyor features apply``
    registers. ``online_url`` is the online store: empty for the embedded SQLite file
    ``.conveyor/online.db``, ``sqlite:///path`` for another file, ``redis://host:port/db``
    for Redis. Environment override: ``CONVEYOR_ONLINE_URL``.
    """

    definitions: str = Field(
        default="features.py", description="The file of feature definitions, in the project."
    )
    online_url: str | None = Field(
        default=None, description="Online store: sqlite:///path or redis://host:port/db."
    )
    skew_sample: int = Field(
        default=200, ge=1, le=100_000, description="Entity keys the skew check samples."
    )


class DataConfig(_Section):
    """``data:`` how ``conveyor data add`` puts files into a local artifact store.

    ``link`` is ``reflink`` (the default: a copy-on-write clone where the file system
    allows, else a copy), ``copy`` (always a full copy) or ``hardlink`` (the stored object
    is a hard link to the workspace file, and both are made read-only; within one file
    system only, never into an encrypted or remote store, else the default is used).
    Environment override: ``CONVEYOR_DATA__LINK``.
    """

    link: Literal["copy", "reflink", "hardlink"] = Field(
        default="reflink",
        description="How data files enter a local artifact store: reflink, copy or hardlink.",
    )


class ConveyorConfig(_Section):
    """The whole of ``conveyor.yaml``."""

    project: ProjectConfig = ProjectConfig()
    store: StoreConfig = StoreConfig()
    pipelines: PipelinesConfig = PipelinesConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    runs: RunsConfig = RunsConfig()
    data: DataConfig = DataConfig()
    gates: tuple[GateConfig, ...] = ()
    environments: dict[str, EnvironmentConfig] = Field(default_factory=dict)
    webhooks: WebhooksConfig = WebhooksConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    triggers: tuple[TriggerConfig, ...] = ()
    serving: ServingAuthConfig = ServingAuthConfig()
    signing: SigningConfig = SigningConfig()
    predictions: PredictionsConfig = PredictionsConfig()
    server: ServerConfig = ServerConfig()
    features: FeaturesConfig = FeaturesConfig()
    cost: CostConfig = CostConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()

    @field_validator("environments")
    @classmethod
    def _environment_names(
        cls, value: dict[str, EnvironmentConfig]
    ) -> dict[str, EnvironmentConfig]:
        for name in value:
            validate_name(name, kind="environment name")
        return value


@dataclass(frozen=True)
class Settings:
    """A validated configuration together with where it came from.

    Attributes:
        root: The project root (the folder holding ``conveyor.yaml``).
        config: The merged configuration (defaults < file < environment).
        config_file: The file read, or ``None`` when running on defaults.
        master_key: The raw master key from the environment, if any (never printed).
        env_overrides: The dotted keys that environment variables set.
        environ: The environment the settings were loaded with (a copy, never printed):
            where secrets named by the configuration (``webhooks.endpoints[].secret_env``)
            are read, so a workspace built from these settings sees the same ones.
    """

    root: Path
    config: ConveyorConfig
    config_file: Path | None = None
    master_key: str | None = field(default=None, repr=False)
    env_overrides: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def metadata_url(self) -> str:
        """The metadata URL with a relative SQLite path made absolute under ``root``."""
        url = self.config.store.metadata_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix:
            rel = url[len(prefix) :]
            if rel != ":memory:":
                return prefix + str((self.root / rel).resolve())
        return url

    @property
    def artifact_url(self) -> str:
        """The artifact URL with a relative folder made absolute under ``root``."""
        return _resolve_location(self.root, self.config.store.artifact_url)

    @property
    def remote_url(self) -> str | None:
        """The configured data remote, resolved like :attr:`artifact_url`."""
        url = self.config.store.remote_url
        return None if url is None else _resolve_location(self.root, url)


def _resolve_location(root: Path, url: str) -> str:
    if "://" in url:
        if url.startswith("file://"):
            return str(Path(url[len("file://") :]).resolve())
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else (root / path).resolve())
