"""``conveyor export kserve``: an InferenceService (``serving.kserve.io/v1beta1``) that runs
the conveyor image as a custom predictor.

The container serves one model version (``conveyor serve --model NAME@VERSION``) on port
8080 with the Open Inference Protocol (``/v2/...``); KServe does the traffic split. For
an environment whose strategy is ``canary``, ``canaryTrafficPercent`` is the challenger's
current weight while a canary runs, else the environment's first canary step: applying
the file for a new version then sends that share to it, and ``kubectl patch`` of the
percent promotes it. ``--scale-to-zero`` (or ``kubernetes.scale_to_zero``) sets
``minReplicas: 0``: serverless (Knative) mode, where the first request after idle waits
for a pod to start. Canary splits and scale to zero both need KServe's Serverless mode.

The pod runs the image as ``conveyor build`` made it: its own ``conveyor.yaml`` and the
embedded store holding the version (copied by an init container into a writable volume,
the root filesystem being read-only). The keys of the Secret of ``export k8s`` are passed
when it exists (all optional), which points the server at the shared stores instead.
``serving.allowed_hosts`` is set to the Service names KServe creates plus
``kubernetes.hosts`` (add the external domain there).

The InferenceService schema has no ``protocolVersion`` for custom containers (only the
framework specs, such as ``sklearn``, carry one), so the protocol is recorded in the
annotation ``conveyor.dev/protocol: v2`` and the container port is named ``http1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.infra import _pods as pods
from conveyor.infra._context import ExportContext, read_context
from conveyor.infra._files import dump_yaml, header, write_file
from conveyor.infra._names import k8s_name

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["canary_percent", "export_kserve", "inference_service"]

_ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the pod is reached through KServe's routing
_COMMAND = "kserve"


def export_kserve(
    ws: Workspace,
    env: str,
    output: str | Path,
    *,
    image: str | None = None,
    scale_to_zero: bool = False,
) -> Path:
    """Write the InferenceService of environment ``env`` to the YAML file ``output``.

    Args:
        ws: The project's workspace.
        env: A configured environment with a deployment.
        output: The file to write (replaced only if an export wrote it).
        image: The container image (default: ``kubernetes.image``).
        scale_to_zero: ``minReplicas: 0`` (also when ``kubernetes.scale_to_zero``).

    Returns:
        The written file.

    Raises:
        EnvironmentNotFoundError: ``env`` is not configured.
        NoDeploymentError: ``env`` has no deployment yet.
        SecretInConfigError: ``conveyor.yaml`` holds a secret.
        OutputNotOwnedError: ``output`` exists and an export did not write it.
        ConfigError: no image is given or configured.

    Example:
        >>> export_kserve(ws, "production", "isvc.yaml", image="conveyor-churn:3")  # doctest: +SKIP
        PosixPath('isvc.yaml')
    """
    ctx = read_context(ws, env, image=image)
    document = inference_service(ctx, scale_to_zero=scale_to_zero)
    return write_file(Path(output), header(_COMMAND) + dump_yaml([document]))


def canary_percent(ctx: ExportContext) -> int | None:
    """The share of traffic for the newest revision, or ``None`` when not a canary.

    The challenger's weight while a canary is in progress, else the first canary step of
    the environment (``steps`` of the deployment, or of the configuration).
    """
    deployment = ctx.deployment
    if deployment.strategy == "canary" and deployment.in_progress:
        challenger = deployment.by_role("challenger")
        if challenger is not None:
            return round(challenger.weight)
    if ctx.environment.strategy != "canary":
        return None
    steps = deployment.steps if deployment.strategy == "canary" and deployment.steps else ()
    return int((steps or ctx.environment.steps)[0])


def inference_service(ctx: ExportContext, *, scale_to_zero: bool = False) -> dict[str, Any]:
    """The InferenceService document of an export context."""
    k8s = ctx.kubernetes
    served = ctx.served
    name = ctx.name(per_env=True)
    # Always --insecure: the image's own conveyor.yaml has serving.auth none, and access
    # is KServe's ingress and mesh policy's to decide.
    args = ["serve", "--model", served.ref, "--host", _ALL_INTERFACES]
    args += ["--port", str(pods.SERVE_PORT), "--workers", str(k8s.workers), "--insecure"]
    probe = pods.http_probe("/v2/health/ready", "", periodSeconds=5)
    probe["httpGet"]["port"] = pods.SERVE_PORT
    hosts = sorted({*pods.allowed_hosts(ctx, name), *pods.allowed_hosts(ctx, f"{name}-predictor")})
    predictor_container = pods.container(
        ctx,
        "kserve-container",
        args,
        extra={
            "ports": [{"containerPort": pods.SERVE_PORT, "name": "http1", "protocol": "TCP"}],
            "readinessProbe": probe,
        },
        shared=False,
        hosts=hosts,
    )
    spec = pods.pod_spec(ctx, [predictor_container], shared=False)
    predictor: dict[str, Any] = {
        "containers": [predictor_container],
        "initContainers": [_seed_store(ctx)],
        "maxReplicas": k8s.max_replicas,
        "minReplicas": 0 if (scale_to_zero or k8s.scale_to_zero) else k8s.min_replicas,
    }
    for key in ("automountServiceAccountToken", "securityContext", "volumes"):
        predictor[key] = spec[key]
    if "serviceAccountName" in spec:
        predictor["serviceAccountName"] = spec["serviceAccountName"]
    percent = canary_percent(ctx)
    if percent is not None:
        predictor["canaryTrafficPercent"] = percent
    labels = ctx.labels("predictor", per_env=True)
    labels["conveyor.dev/model"] = k8s_name(served.model)
    labels["conveyor.dev/version"] = str(served.version)
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "annotations": {
                "conveyor.dev/config-hash": ctx.config_hash,
                "conveyor.dev/protocol": "v2",
                "prometheus.io/path": "/metrics",
                "prometheus.io/port": str(pods.SERVE_PORT),
                "prometheus.io/scrape": "true",
            },
            "labels": labels,
            "name": name,
            "namespace": k8s.namespace,
        },
        "spec": {"predictor": predictor},
    }


def _seed_store(ctx: ExportContext) -> dict[str, Any]:
    """An init container copying the image's embedded store into the writable volume.

    The root filesystem is read-only and ``.conveyor`` is an emptyDir (the server writes
    its prediction log and spill files there), which would hide the store ``conveyor
    build`` put in the image: it is copied in first.
    """
    source = f"{ctx.kubernetes.working_dir}/.conveyor"
    script = (
        "import os, shutil, sys; "
        "os.path.isdir(sys.argv[1]) and shutil.copytree(sys.argv[1], sys.argv[2], "
        "dirs_exist_ok=True)"
    )
    return {
        "command": ["python", "-c", script, source, "/seed"],
        "image": ctx.image,
        "name": "seed-store",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [{"mountPath": "/seed", "name": "state"}],
    }
