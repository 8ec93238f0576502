"""Infrastructure faces: container build contexts, Kubernetes, KServe and Airflow exports.

Each function reads the workspace's records and writes plain files a user can review and
commit (a Dockerfile, manifests, a DAG); nothing here talks to a cluster.
"""

from __future__ import annotations

from conveyor.infra._airflow import (
    AirflowDag,
    AirflowExportError,
    airflow_dag,
    airflow_id,
    export_airflow,
)
from conveyor.infra._build import BuildContext, BuildError, build_context, build_image
from conveyor.infra._errors import (
    ExportError,
    NoDeploymentError,
    OutputNotOwnedError,
    SecretInConfigError,
)
from conveyor.infra._k8s import export_k8s
from conveyor.infra._kserve import export_kserve
from conveyor.infra._names import image_name, k8s_name

__all__ = [
    "AirflowDag",
    "AirflowExportError",
    "BuildContext",
    "BuildError",
    "ExportError",
    "NoDeploymentError",
    "OutputNotOwnedError",
    "SecretInConfigError",
    "airflow_dag",
    "airflow_id",
    "build_context",
    "build_image",
    "export_airflow",
    "export_k8s",
    "export_kserve",
    "image_name",
    "k8s_name",
]
