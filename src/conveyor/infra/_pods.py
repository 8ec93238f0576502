"""The pieces every exported pod shares: the container, its environment (Secret
references, never values), the hardened security context, writable volumes, probes and
spot scheduling."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor.infra._context import ExportContext

if TYPE_CHECKING:
    from conveyor.config._kubernetes import ResourcesConfig

#: The uid and gid the image runs as (``conveyor build`` creates this user).
RUN_AS = 10001
#: The pod's scratch folder: an emptyDir in memory, not the host's /tmp.
TMP = "/tmp"  # noqa: S108 - a volume of the pod's own
#: The port of the prediction server in the pod (the image's default).
SERVE_PORT = 8080
#: The port of the team server in the pod.
SERVER_PORT = 8765
#: Secret keys the pods read, each an environment variable of the same name, and whether
#: a pod starts without it. The database is required (every component shares it), and the
#: artifact store unless conveyor.yaml already names a remote one (see :func:`secret_keys`).
SECRET_KEYS: tuple[tuple[str, bool, str], ...] = (
    ("CONVEYOR_METADATA_URL", False, "Metadata database, e.g. postgresql+psycopg://u:pw@db/x"),
    ("CONVEYOR_ARTIFACT_URL", False, "Artifact store, e.g. s3://bucket/prefix"),
    ("AWS_ACCESS_KEY_ID", True, "Credentials of an S3 artifact store"),
    ("AWS_SECRET_ACCESS_KEY", True, "Credentials of an S3 artifact store"),
    ("CONVEYOR_MASTER_KEY", True, "Encryption at rest (64 hex digits), if store.encryption"),
    ("CONVEYOR_TOKEN", True, "A token for a team server (store.server_url), if any"),
    ("CONVEYOR_ONLINE_URL", True, "Online feature store, e.g. redis://:pw@redis:6379/0"),
)


def secret_name(ctx: ExportContext) -> str:
    """The Secret every pod reads (created by the user, never exported)."""
    return ctx.name("-secrets")


def secret_keys(ctx: ExportContext) -> list[tuple[str, bool, str]]:
    """:data:`SECRET_KEYS` plus the variables ``conveyor.yaml`` names for secrets
    (webhook HMAC secrets, the PII hashing key), sorted and without repeats.

    ``CONVEYOR_ARTIFACT_URL`` is optional when ``store.artifact_url`` is already a remote
    URL (``s3://...``): pods cannot share a local folder, so otherwise it is required.
    """
    keys = {name: (name, optional, note) for name, optional, note in SECRET_KEYS}
    if "://" in ctx.settings.store.artifact_url:
        name, _, note = keys["CONVEYOR_ARTIFACT_URL"]
        keys[name] = (name, True, note)
    for endpoint in ctx.settings.webhooks.endpoints:
        if endpoint.secret_env:
            keys.setdefault(endpoint.secret_env, (endpoint.secret_env, True, "Webhook HMAC secret"))
    pii = ctx.settings.predictions.pii
    if pii.columns and pii.policy == "hash":
        keys.setdefault(pii.key_env, (pii.key_env, True, "Key of the PII hashes"))
    return sorted(keys.values())


def allowed_hosts(ctx: ExportContext, service: str) -> list[str]:
    """The ``Host`` names a prediction pod answers: ``serving.allowed_hosts``, the
    Service's in-cluster names and ``kubernetes.hosts`` (sorted, without repeats)."""
    ns = ctx.kubernetes.namespace
    names = [service, f"{service}.{ns}", f"{service}.{ns}.svc", f"{service}.{ns}.svc.cluster.local"]
    return sorted({*ctx.settings.serving.allowed_hosts, *names, *ctx.kubernetes.hosts})


def env_vars(
    ctx: ExportContext, component: str, *, shared: bool = True, hosts: list[str] | None = None
) -> list[dict[str, Any]]:
    """The container's environment: plain settings, then one ``secretKeyRef`` per key.

    Args:
        ctx: The export.
        component: Names the actor the pod's changes are recorded under.
        shared: The pod works on the shared stores (required keys are required); else
            every key is optional (a self-contained image may run without the Secret).
        hosts: Set ``serving.allowed_hosts`` to these (``CONVEYOR_SERVING__ALLOWED_HOSTS``).
    """
    plain = [
        {"name": "CONVEYOR_ACTOR", "value": f"k8s-{component}"},
        {"name": "HOME", "value": TMP},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    if hosts:
        plain.append({"name": "CONVEYOR_SERVING__ALLOWED_HOSTS", "value": json.dumps(hosts)})
    refs = [
        {
            "name": name,
            "valueFrom": {
                "secretKeyRef": {
                    "key": name,
                    "name": secret_name(ctx),
                    "optional": optional or not shared,
                }
            },
        }
        for name, optional, _ in secret_keys(ctx)
    ]
    return sorted(plain, key=lambda e: e["name"]) + refs


def resources(config: ResourcesConfig) -> dict[str, Any]:
    """A container's ``resources`` from the configuration."""
    limits = {"cpu": config.cpu_limit, "memory": config.memory_limit}
    out: dict[str, Any] = {"requests": {"cpu": config.cpu, "memory": config.memory}}
    if any(limits.values()):
        out["limits"] = {key: value for key, value in limits.items() if value}
    return out


def http_probe(path: str, port: str, **timing: int) -> dict[str, Any]:
    """An HTTP probe sent with ``Host: localhost`` (the servers answer allowed hosts only,
    and the kubelet would otherwise send the pod IP)."""
    return {
        "httpGet": {
            "httpHeaders": [{"name": "Host", "value": "localhost"}],
            "path": path,
            "port": port,
        },
        **timing,
    }


def container(
    ctx: ExportContext,
    component: str,
    args: list[str],
    *,
    config: ResourcesConfig | None = None,
    extra: dict[str, Any] | None = None,
    shared: bool = True,
    hosts: list[str] | None = None,
) -> dict[str, Any]:
    """One hardened ``conveyor`` container: non-root, read-only root filesystem, no
    capabilities, ``/tmp`` and the project's ``.conveyor`` folder writable, and (when
    ``shared``) ``conveyor.yaml`` from the ConfigMap instead of the image's own."""
    workdir = ctx.kubernetes.working_dir
    mounts: list[dict[str, Any]] = [
        {"mountPath": f"{workdir}/.conveyor", "name": "state"},
        {"mountPath": TMP, "name": "tmp"},
    ]
    if shared:
        mounts.insert(
            0,
            {
                "mountPath": f"{workdir}/conveyor.yaml",
                "name": "config",
                "readOnly": True,
                "subPath": "conveyor.yaml",
            },
        )
    out: dict[str, Any] = {
        "name": component,
        "image": ctx.image,
        "command": ["conveyor"],
        "args": args,
        "workingDir": workdir,
        "env": env_vars(ctx, component, shared=shared, hosts=hosts),
        "resources": resources(config or ctx.kubernetes.resources),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": mounts,
    }
    out.update(extra or {})
    return out


def pod_spec(
    ctx: ExportContext, containers: list[dict[str, Any]], *, shared: bool = True, **extra: Any
) -> dict[str, Any]:
    """A pod spec around ``containers``: the pod security context and the volumes (the
    ConfigMap's only when ``shared``)."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "containers": containers,
        "securityContext": {
            "fsGroup": RUN_AS,
            "runAsGroup": RUN_AS,
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumes": [
            {"configMap": {"name": ctx.name("-config")}, "name": "config"},
            {"emptyDir": {}, "name": "state"},
            {"emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}, "name": "tmp"},
        ],
        **extra,
    }
    if not shared:
        spec["volumes"] = spec["volumes"][1:]
    if ctx.kubernetes.service_account:
        spec["serviceAccountName"] = ctx.kubernetes.service_account
    return spec


def pod_template(
    ctx: ExportContext, labels: dict[str, str], spec: dict[str, Any], **annotations: str
) -> dict[str, Any]:
    """A pod template whose annotation rolls the pods when ``conveyor.yaml`` changes."""
    return {
        "metadata": {
            "annotations": {"conveyor.dev/config-hash": ctx.config_hash, **annotations},
            "labels": labels,
        },
        "spec": spec,
    }


def spot_scheduling(ctx: ExportContext) -> dict[str, Any]:
    """Tolerations and node affinity for spot capacity (``{}`` unless ``kubernetes.spot``).

    Each configured node label is one alternative (any matches); its taint is tolerated.
    """
    k8s = ctx.kubernetes
    if not k8s.spot or not k8s.spot_node_labels:
        return {}
    labels = sorted(k8s.spot_node_labels.items())
    tolerations = [
        {"effect": "NoSchedule", "key": key, "operator": "Equal", "value": value}
        for key, value in labels
    ]
    terms = [
        {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}
        for key, value in labels
    ]
    if k8s.spot_affinity == "required":
        node_affinity: dict[str, Any] = {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }
    else:
        node_affinity = {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"preference": term, "weight": 100} for term in terms
            ]
        }
    return {"affinity": {"nodeAffinity": node_affinity}, "tolerations": tolerations}
