"""Infrastructure faces: container build contexts, Kubernetes, KServe and Airflow exports.

Each function reads the workspace's records and writes plain files a user can review and
commit (a Dockerfile, manifests, a DAG); nothing here talks to a cluster.
"""

from __future__ import annotations

from conveyor.infra._names import image_name, k8s_name

__all__ = ["image_name", "k8s_name"]
