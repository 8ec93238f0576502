"""``kubernetes:`` how ``conveyor export k8s`` and ``export kserve`` shape the manifests."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KubernetesConfig(BaseModel):
    """``kubernetes:`` the namespace, image and capacity the exported manifests use."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    namespace: str = Field(default="default", description="Namespace of every manifest.")
    image: str | None = Field(
        default=None, description="Image of the server, agent and jobs (`conveyor build`)."
    )
    spot: bool = Field(
        default=False, description="Run training Jobs on spot/preemptible capacity."
    )
