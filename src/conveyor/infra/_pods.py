"""The pieces every exported pod shares: the container, its environment (Secret
references, never values), the hardened security context, writable volumes, probes and
spot scheduling."""

from __future__ import annotations

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
#: a pod starts without it. Only the database is required: every component needs it.
SECRET_KEYS: tuple[tuple[str, bool, str], ...] = (
    ("CONVEYOR_METADATA_URL", False, "Metadata database, e.g. postgresql+psycopg://u:pw@db/x"),
    ("CONVEYOR_ARTIFACT_URL", True, "Artifact store, e.g. s3://bucket/prefix"),
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
    (webhook HMAC secrets, the PII hashing key), sorted and without repeats."""
    keys = {name: (name, optional, note) for name, optional, note in SECRET_KEYS}
    for endpoint in ctx.settings.webhooks.endpoints:
        if endpoint.secret_env:
            keys.setdefault(endpoint.secret_env, (endpoint.secret_env, True, "Webhook HMAC secret"))
    pii = ctx.settings.predictions.pii
    if pii.columns and pii.policy == "hash":
        keys.setdefault(pii.key_env, (pii.key_env, True, "Key of the PII hashes"))
    return sorted(keys.values())


def env_vars(ctx: ExportContext, component: str) -> list[dict[str, Any]]:
    """The container's environment: plain settings, then one ``secretKeyRef`` per key."""
    plain = [
        {"name": "CONVEYOR_ACTOR", "value": f"k8s-{component}"},
        {"name": "HOME", "value": TMP},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    refs = [
        {
            "name": name,
            "valueFrom": {
                "secretKeyRef": {"key": name, "name": secret_name(ctx), "optional": optional}
            },
        }
        for name, optional, _ in secret_keys(ctx)
    ]
    return plain + refs


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
) -> dict[str, Any]:
    """One hardened ``conveyor`` container: non-root, read-only root filesystem, no
    capabilities, ``conveyor.yaml`` from the ConfigMap, ``/tmp`` and the project's
    ``.conveyor`` folder writable."""
    workdir = ctx.kubernetes.working_dir
    out: dict[str, Any] = {
        "name": component,
        "image": ctx.image,
        "command": ["conveyor"],
        "args": args,
        "workingDir": workdir,
        "env": env_vars(ctx, component),
        "resources": resources(config or ctx.kubernetes.resources),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [
            {
                "mountPath": f"{workdir}/conveyor.yaml",
                "name": "config",
                "readOnly": True,
                "subPath": "conveyor.yaml",
            },
            {"mountPath": f"{workdir}/.conveyor", "name": "state"},
            {"mountPath": TMP, "name": "tmp"},
        ],
    }
    out.update(extra or {})
    return out


def pod_spec(ctx: ExportContext, containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A pod spec around ``containers``: the pod security context and the volumes."""
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
