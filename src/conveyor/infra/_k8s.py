"""``conveyor export k8s``: a kustomize base that runs a project's environment on Kubernetes.

The base holds the prediction server of one environment (Deployment, Service,
PodDisruptionBudget, HorizontalPodAutoscaler), the team server (Deployment, Service), the
agent (one replica, ``Recreate``: its lease is in the database), monitoring as a CronJob,
and ``conveyor.yaml`` as a ConfigMap. Credentials stay in a Secret the user creates; the
manifests only reference its keys. A training Job template (``conveyor ci``) is written
beside the base, not listed in it, so ``kubectl apply -k`` never starts a training run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.infra import _pods as pods
from conveyor.infra._context import ExportContext, read_context
from conveyor.infra._files import dump_yaml, header, write_folder
from conveyor.infra._k8s_docs import readme, secrets_example

if TYPE_CHECKING:
    from conveyor.workspace import Workspace

__all__ = ["TRAINING_JOB", "export_k8s", "k8s_files", "monitor_schedule"]

#: The training Job template's file (applied by hand: ``kubectl create -f``).
TRAINING_JOB = "training-job.yaml"
# Every interface of the pod: the Service in front decides who reaches it.
_ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a pod's port is reached through its Service
_COMMAND = "k8s"


def export_k8s(
    ws: Workspace, env: str, output: str | Path, *, image: str | None = None
) -> list[Path]:
    """Write the Kubernetes manifests of environment ``env`` into the folder ``output``.

    Args:
        ws: The project's workspace (its configuration and deployment records).
        env: A configured environment with a deployment.
        output: The folder to write (created; a previous export there is replaced).
        image: The container image (default: ``kubernetes.image``).

    Returns:
        The written files, sorted.

    Raises:
        EnvironmentNotFoundError: ``env`` is not configured.
        NoDeploymentError: ``env`` has no deployment yet.
        SecretInConfigError: ``conveyor.yaml`` holds a secret (it would be in the ConfigMap).
        OutputNotOwnedError: ``output`` holds files an export did not write.
        ConfigError: no image is given or configured.

    Example:
        >>> export_k8s(ws, "production", "deploy/k8s", image="conveyor-churn:3")  # doctest: +SKIP
        [PosixPath('deploy/k8s/README.md'), PosixPath('deploy/k8s/agent-deployment.yaml'), ...]
    """
    ctx = read_context(ws, env, image=image)
    return write_folder(Path(output), k8s_files(ctx))


def k8s_files(ctx: ExportContext) -> dict[str, str]:
    """Every file of the export, by name (the manifests, README and Secret example)."""
    manifests: dict[str, dict[str, Any]] = {
        "agent-deployment.yaml": _agent(ctx),
        "configmap.yaml": _configmap(ctx),
        "monitor-cronjob.yaml": _monitor(ctx),
        "predictor-deployment.yaml": _predictor(ctx),
        "predictor-hpa.yaml": _hpa(ctx),
        "predictor-pdb.yaml": _pdb(ctx),
        "predictor-service.yaml": _service(ctx, "predictor", pods.SERVE_PORT, per_env=True),
        "server-deployment.yaml": _team_server(ctx),
        "server-service.yaml": _service(ctx, "server", pods.SERVER_PORT, per_env=False),
    }
    files = {name: header(_COMMAND) + dump_yaml([doc]) for name, doc in manifests.items()}
    files["kustomization.yaml"] = header(_COMMAND) + dump_yaml([_kustomization(ctx, manifests)])
    training = _training_job(ctx)
    if training is not None:
        files[TRAINING_JOB] = header(_COMMAND) + dump_yaml([training])
    files["secrets.example.env"] = header(_COMMAND) + secrets_example(ctx)
    files["README.md"] = header(_COMMAND, "<!--").rstrip("\n") + " -->\n" + readme(ctx, files)
    return files


def _meta(ctx: ExportContext, name: str, component: str, *, per_env: bool) -> dict[str, Any]:
    return {
        "labels": ctx.labels(component, per_env=per_env),
        "name": name,
        "namespace": ctx.kubernetes.namespace,
    }


def _kustomization(ctx: ExportContext, manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [
            {
                "includeSelectors": False,
                "pairs": {
                    "app.kubernetes.io/managed-by": "conveyor",
                    "app.kubernetes.io/part-of": ctx.prefix,
                },
            }
        ],
        "namespace": ctx.kubernetes.namespace,
        "resources": sorted(manifests),
    }


def _configmap(ctx: ExportContext) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "data": {"conveyor.yaml": ctx.config_text},
        "kind": "ConfigMap",
        "metadata": _meta(ctx, ctx.name("-config"), "config", per_env=False),
    }


def _serve_args(ctx: ExportContext) -> list[str]:
    args = ["serve", "--env", ctx.env, "--host", _ALL_INTERFACES, "--port", str(pods.SERVE_PORT)]
    args += ["--workers", str(ctx.kubernetes.workers)]
    if ctx.settings.serving.auth == "none":
        # The server refuses a non-loopback host without auth unless told; README says so.
        args.append("--insecure")
    return args


def _predictor(ctx: ExportContext) -> dict[str, Any]:
    name = ctx.name(per_env=True)
    labels = ctx.labels("predictor", per_env=True)
    probes = {
        "livenessProbe": pods.http_probe(
            "/v2/health/live", "http", periodSeconds=10, timeoutSeconds=5, failureThreshold=3
        ),
        "ports": [{"containerPort": pods.SERVE_PORT, "name": "http", "protocol": "TCP"}],
        "readinessProbe": pods.http_probe(
            "/v2/health/ready", "http", periodSeconds=5, timeoutSeconds=5, failureThreshold=3
        ),
        "startupProbe": pods.http_probe(
            "/v2/health/live", "http", periodSeconds=5, timeoutSeconds=5, failureThreshold=60
        ),
    }
    spread = {
        "labelSelector": {"matchLabels": ctx.selector("predictor", per_env=True)},
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
    }
    spec = pods.pod_spec(
        ctx,
        [
            pods.container(
                ctx,
                "predictor",
                _serve_args(ctx),
                extra=probes,
                hosts=pods.allowed_hosts(ctx, ctx.name(per_env=True)),
            )
        ],
        terminationGracePeriodSeconds=30,
        topologySpreadConstraints=[spread],
    )
    scrape = {
        "prometheus.io/path": "/metrics",
        "prometheus.io/port": str(pods.SERVE_PORT),
        "prometheus.io/scrape": "true",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(ctx, name, "predictor", per_env=True),
        "spec": {
            # No replicas: the HorizontalPodAutoscaler owns the count.
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": ctx.selector("predictor", per_env=True)},
            "strategy": {
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
                "type": "RollingUpdate",
            },
            "template": pods.pod_template(ctx, labels, spec, **scrape),
        },
    }


def _service(ctx: ExportContext, component: str, port: int, *, per_env: bool) -> dict[str, Any]:
    name = ctx.name(per_env=True) if per_env else ctx.name("-server")
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(ctx, name, component, per_env=per_env),
        "spec": {
            "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": "http"}],
            "selector": ctx.selector(component, per_env=per_env),
            "type": ctx.kubernetes.service_type,
        },
    }


def _pdb(ctx: ExportContext) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(ctx, ctx.name(per_env=True), "predictor", per_env=True),
        "spec": {
            # maxUnavailable, not minAvailable: a single replica can still be drained.
            "maxUnavailable": 1,
            "selector": {"matchLabels": ctx.selector("predictor", per_env=True)},
        },
    }


def _hpa(ctx: ExportContext) -> dict[str, Any]:
    k8s = ctx.kubernetes
    target = {"averageUtilization": k8s.target_cpu_percent, "type": "Utilization"}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(ctx, ctx.name(per_env=True), "predictor", per_env=True),
        "spec": {
            "maxReplicas": k8s.max_replicas,
            "metrics": [{"resource": {"name": "cpu", "target": target}, "type": "Resource"}],
            "minReplicas": k8s.min_replicas,
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": ctx.name(per_env=True),
            },
        },
    }


def _team_server(ctx: ExportContext) -> dict[str, Any]:
    args = ["server", "--host", _ALL_INTERFACES, "--port", str(pods.SERVER_PORT)]
    probes = {
        "livenessProbe": pods.http_probe("/api/v1/health", "http", periodSeconds=10),
        "ports": [{"containerPort": pods.SERVER_PORT, "name": "http", "protocol": "TCP"}],
        "readinessProbe": pods.http_probe("/api/v1/health", "http", periodSeconds=5),
    }
    labels = ctx.labels("server", per_env=False)
    spec = pods.pod_spec(ctx, [pods.container(ctx, "server", args, extra=probes)])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(ctx, ctx.name("-server"), "server", per_env=False),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": ctx.selector("server", per_env=False)},
            "template": pods.pod_template(ctx, labels, spec),
        },
    }


def _agent(ctx: ExportContext) -> dict[str, Any]:
    labels = ctx.labels("agent", per_env=False)
    spec = pods.pod_spec(ctx, [pods.container(ctx, "agent", ["agent"])])
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(ctx, ctx.name("-agent"), "agent", per_env=False),
        "spec": {
            # One agent per project; Recreate so an old pod is gone before a new one starts
            # (the lease in the database would make a second one wait anyway).
            "replicas": 1,
            "selector": {"matchLabels": ctx.selector("agent", per_env=False)},
            "strategy": {"type": "Recreate"},
            "template": pods.pod_template(ctx, labels, spec),
        },
    }


def monitor_schedule(ctx: ExportContext) -> str:
    """The monitoring CronJob's schedule: ``kubernetes.monitor_schedule``, else one run per
    ``monitoring.window`` (``30m``, ``1h``, ``6h``, ``1d``; hourly for a row count).

    Example:
        >>> monitor_schedule(ctx)  # monitoring.window: 1d  # doctest: +SKIP
        '0 0 * * *'
    """
    if ctx.kubernetes.monitor_schedule:
        return ctx.kubernetes.monitor_schedule
    match = re.fullmatch(r"(\d+)([mhd])", ctx.settings.monitoring.window.strip())
    if match is None:
        return "0 * * * *"
    count, unit = int(match.group(1)), match.group(2)
    if unit == "m" and 0 < count < 60:
        return f"*/{count} * * * *"
    if unit == "h" and 1 < count < 24:
        return f"0 */{count} * * *"
    if unit == "d" and count > 1:
        return f"0 0 */{count} * *"
    return "0 0 * * *" if unit == "d" else "0 * * * *"


def _monitor(ctx: ExportContext) -> dict[str, Any]:
    labels = ctx.labels("monitor", per_env=True)
    args = ["monitor", "run", "--env", ctx.env]
    spec = pods.pod_spec(ctx, [pods.container(ctx, "monitor", args)], restartPolicy="Never")
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(ctx, ctx.name("-monitor", per_env=True), "monitor", per_env=True),
        "spec": {
            "concurrencyPolicy": "Forbid",
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {"backoffLimit": 1, "template": pods.pod_template(ctx, labels, spec)},
            },
            "schedule": monitor_schedule(ctx),
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
        },
    }


def _training_job(ctx: ExportContext) -> dict[str, Any] | None:
    """The ``conveyor ci`` Job, when ``pipelines.training`` names a training pipeline."""
    if not ctx.settings.pipelines.training:
        return None
    labels = ctx.labels("training", per_env=False)
    args = ["ci", "--report-dir", f"{pods.TMP}/ci-report"]
    trainer = pods.container(ctx, "training", args, config=ctx.kubernetes.training_resources)
    spec = pods.pod_spec(ctx, [trainer], restartPolicy="Never", **pods.spot_scheduling(ctx))
    meta = _meta(ctx, "", "training", per_env=False)
    del meta["name"]
    meta["generateName"] = ctx.name("-train-")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 1,
            "template": pods.pod_template(ctx, labels, spec),
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
        },
    }
