"""Configuration sections of the operations capabilities: environments (deployments),
webhooks (notifications), monitoring, and triggers (continuous training).

Each section is declarative and validated here for form; the owning package validates the
meaning (for example that a cron expression parses) and raises ``ConfigError`` naming the key.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from conveyor.core import validate_name

Strategy = Literal["replace", "blue-green", "canary", "shadow", "ab"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class AnalysisConfig(_Section):
    """``environments.<env>.analysis``: the canary analysis and its error bounds."""

    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="False-rollback bound.")
    beta: float = Field(default=0.05, gt=0, lt=0.5, description="False-promotion bound.")
    max_error_rate_increase: float = Field(default=0.01, ge=0, le=1)
    max_latency_p95_ratio: float = Field(default=2.0, gt=0)
    max_divergence: float = Field(default=0.2, ge=0, le=1)
    metric: Literal["accuracy", "error", "mae", "mse"] = Field(
        default="accuracy",
        description="Per-request metric the canary compares (mae or mse for numbers).",
    )
    min_metric_delta: float = Field(default=-0.02, le=0)
    min_labels: int = Field(default=100, ge=0)


class EnvironmentConfig(_Section):
    """``environments.<env>``: how deployments to one environment roll out."""

    strategy: Strategy = "replace"
    steps: tuple[int, ...] = (5, 25, 50, 100)
    min_step_duration_s: float = Field(default=60.0, ge=0)
    min_requests: int = Field(default=200, ge=0)
    requires_approval: bool = False
    sticky_key: str | None = Field(
        default=None, description="A/B stickiness: a header name, or `column:<input column>`."
    )
    split: float = Field(default=50.0, gt=0, lt=100, description="A/B: % to the challenger.")
    shadow_timeout_ms: float = Field(default=250.0, gt=0)
    analysis: AnalysisConfig = AnalysisConfig()
    protected: bool = Field(
        default=False,
        description="Deploy, promote, rollback and approve here need a deployer (or admin) "
        "token; developers may not.",
    )
    require_signature: bool = Field(
        default=False,
        description="A version deploys here only with a valid signature from a key under "
        "`signing.public_keys`.",
    )

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or list(value) != sorted(set(value)) or value[0] <= 0 or value[-1] != 100:
            raise ValueError("expected increasing percentages ending at 100, e.g. [5, 25, 50, 100]")
        return value


class WebhookEndpoint(_Section):
    """``webhooks.endpoints[]``: one receiver of events."""

    url: str
    secret_env: str | None = Field(
        default=None, description="Environment variable holding the HMAC secret."
    )
    events: tuple[str, ...] = ("*",)
    format: Literal["json", "slack"] = "json"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value


class WebhooksConfig(_Section):
    """``webhooks:`` where events are posted; hosts outside ``allowed_hosts`` are refused."""

    allowed_hosts: tuple[str, ...] = ()
    endpoints: tuple[WebhookEndpoint, ...] = ()
    max_attempts: int = Field(default=5, ge=1, le=20)
    timeout_s: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _hosts_allowed(self) -> WebhooksConfig:
        from urllib.parse import urlsplit

        for endpoint in self.endpoints:
            host = urlsplit(endpoint.url).hostname or ""
            if host not in self.allowed_hosts:
                raise ValueError(
                    f"endpoint host {host!r} is not in allowed_hosts "
                    f"({', '.join(self.allowed_hosts) or 'empty'})"
                )
        return self


class MonitoringConfig(_Section):
    """``monitoring:`` windows, drift tests and thresholds.

    Alerts go through ``conveyor.notify`` like every event: to the ``webhooks`` endpoints
    whose ``events`` match ``monitor.*``, or to the ``conveyor.notify`` log when none is
    configured. The former ``notifiers`` key is still accepted, ignored, with a warning.
    """

    window: str = Field(default="1d", description="Default window: 1h, 1d, or N rows.")
    drift_share: float = Field(
        default=0.3, gt=0, le=1, description="Share of drifted features that makes a verdict."
    )
    p_value: float = Field(default=0.01, gt=0, lt=1)
    features: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-feature overrides: {feature: {test, threshold}}."
    )
    metric: str | None = Field(
        default=None,
        description="Labelled-performance metric (accuracy, error_rate, mae, rmse). Default: "
        "by the model's output, accuracy for classes, rmse (or the recorded mae) for numbers.",
    )
    min_labels: int = Field(default=100, ge=0)
    executor: Literal["local", "threads", "ray"] = Field(
        default="local",
        description="How a duration window is read: local (the whole window as one frame, "
        "exact), threads (each Parquet partition summarised in a thread pool and merged, "
        "memory bounded) or ray (the same on a Ray cluster, for logs beyond one machine). "
        "Row-count windows are always read locally.",
    )
    workers: int | None = Field(
        default=None, ge=1, description="Threads or Ray tasks in parallel (default: CPUs)."
    )
    notifiers: tuple[Literal["log", "webhook"], ...] = Field(
        default=("log",),
        exclude=True,
        description="Deprecated and ignored: alerts go where every event goes (the webhooks "
        "whose events match monitor.*, else the conveyor.notify log).",
    )

    @model_validator(mode="after")
    def _notifiers_deprecated(self) -> MonitoringConfig:
        if "notifiers" in self.model_fields_set:
            warnings.warn(
                f"monitoring.notifiers ({', '.join(self.notifiers) or 'empty'}) is deprecated "
                "and ignored: monitoring alerts go to the configured webhooks like every "
                "event, or to the conveyor.notify log when there are none. Remove the key; "
                "to keep alerts off an endpoint, set its events (webhooks.endpoints[].events, "
                "e.g. ['deploy.*']).",
                FutureWarning,
                stacklevel=2,
            )
        return self


class TrafficConfig(_Section):
    """``triggers[].include_traffic``: add labelled live traffic to the training data.

    Before retraining, the agent reads the environment's prediction log joined with
    feedback, keeps the rows that have a label, and adds them as a new version of
    ``dataset`` (its latest rows plus these), with the label in column ``label``. Columns of
    the dataset that the traffic does not carry are left empty.
    """

    dataset: str
    label: str

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        return validate_name(value, kind="dataset name")


class TriggerConfig(_Section):
    """``triggers[]``: when the agent retrains a model."""

    name: str
    kind: Literal["schedule", "drift", "performance", "new_data"]
    model: str
    env: str = "production"
    cron: str | None = None
    threshold: float | None = None
    metric: str | None = None
    min_labels: int = Field(default=100, ge=0)
    dataset: str | None = None
    cooldown_s: float = Field(default=3600.0, ge=0)
    include_traffic: TrafficConfig | None = None

    @field_validator("name", "model")
    @classmethod
    def _names(cls, value: str) -> str:
        return validate_name(value, kind="trigger or model name")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> TriggerConfig:
        needed = {
            "schedule": ("cron",),
            "drift": (),
            "performance": ("threshold",),
            "new_data": ("dataset",),
        }[self.kind]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} trigger needs {', '.join(missing)}")
        return self
