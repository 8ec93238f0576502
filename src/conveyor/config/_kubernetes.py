"""``kubernetes:`` how ``conveyor export k8s`` and ``export kserve`` shape the manifests.

Every default works on a plain cluster: a ClusterIP Service, two to ten prediction
replicas scaled on CPU, modest requests and limits, and, with ``spot: true``, training
Jobs that *prefer* spot/preemptible nodes (GKE, EKS, AKS and Karpenter labels) and
tolerate their taints, so they still run where no such node exists.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A Kubernetes resource quantity: 500m, 1, 1.5, 512Mi, 2Gi, 1e3 ...
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?([eE][0-9]+|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")

#: Node labels of spot/preemptible capacity on the main managed clusters.
SPOT_NODE_LABELS: dict[str, str] = {
    "cloud.google.com/gke-spot": "true",
    "eks.amazonaws.com/capacityType": "SPOT",
    "karpenter.sh/capacity-type": "spot",
    "kubernetes.azure.com/scalesetpriority": "spot",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ResourcesConfig(_Section):
    """CPU and memory of one container: requests (scheduling) and limits (``None``: none)."""

    cpu: str = Field(default="500m", description="CPU request (e.g. 500m, 2).")
    memory: str = Field(default="1Gi", description="Memory request (e.g. 512Mi, 4Gi).")
    cpu_limit: str | None = Field(default=None, description="CPU limit; none by default.")
    memory_limit: str | None = Field(default="2Gi", description="Memory limit.")

    @field_validator("cpu", "memory", "cpu_limit", "memory_limit")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and not _QUANTITY.fullmatch(str(value)):
            raise ValueError("expected a Kubernetes quantity such as 500m, 2, 512Mi or 4Gi")
        return None if value is None else str(value)


class KubernetesConfig(_Section):
    """``kubernetes:`` the namespace, image and capacity the exported manifests use."""

    namespace: str = Field(default="default", description="Namespace of every manifest.")
    image: str | None = Field(
        default=None, description="Image of the server, agent and jobs (`conveyor build`)."
    )
    spot: bool = Field(default=False, description="Run training Jobs on spot/preemptible capacity.")
    spot_affinity: Literal["preferred", "required"] = Field(
        default="preferred",
        description="`preferred`: training Jobs favour spot nodes but run elsewhere when "
        "there are none; `required`: they wait for a spot node.",
    )
    spot_node_labels: dict[str, str] = Field(
        default_factory=lambda: dict(SPOT_NODE_LABELS),
        description="Node labels that mark spot capacity (any one matches); each is also "
        "tolerated as a NoSchedule taint.",
    )
    working_dir: str = Field(
        default="/app/project",
        description="The project folder inside the image (`conveyor build` puts it here).",
    )
    hosts: tuple[str, ...] = Field(
        default=(),
        description="Host names clients reach the prediction server by besides the in-cluster "
        "Service names (an Ingress, KServe's domain); added to serving.allowed_hosts in pods.",
    )
    min_replicas: int = Field(default=2, ge=1, description="Fewest prediction server pods.")
    max_replicas: int = Field(default=10, ge=1, description="Most prediction server pods.")
    target_cpu_percent: int = Field(
        default=70, ge=1, le=100, description="Average CPU utilisation the autoscaler keeps."
    )
    workers: int = Field(default=1, ge=1, description="`conveyor serve --workers` per pod.")
    resources: ResourcesConfig = Field(
        default_factory=ResourcesConfig, description="Prediction server container."
    )
    training_resources: ResourcesConfig = Field(
        default_factory=lambda: ResourcesConfig(cpu="2", memory="4Gi", memory_limit="8Gi"),
        description="Training Job container.",
    )
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="ClusterIP", description="Type of the prediction and team server Services."
    )
    monitor_schedule: str | None = Field(
        default=None,
        description="Cron schedule of the monitoring CronJob (default: from monitoring.window, "
        "hourly for 1h, daily for 1d).",
    )
    scale_to_zero: bool = Field(
        default=False,
        description="`export kserve`: minReplicas 0 (serverless; the first request after "
        "idle waits for a pod).",
    )
    service_account: str | None = Field(
        default=None, description="ServiceAccount of every pod (default: the namespace's)."
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", value):
            raise ValueError("expected a Kubernetes namespace name (lower case, digits, '-')")
        return value

    @field_validator("working_dir")
    @classmethod
    def _working_dir(cls, value: str) -> str:
        if not value.startswith("/") or value.rstrip("/") in ("", "/tmp"):  # noqa: S108
            raise ValueError("expected an absolute folder other than / and /tmp, e.g. /app")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _replicas(self) -> KubernetesConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) is below min_replicas ({self.min_replicas})"
            )
        return self
