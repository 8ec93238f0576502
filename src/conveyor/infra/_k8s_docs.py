"""The README and Secret example written beside the exported manifests."""

from __future__ import annotations

from collections.abc import Mapping

from conveyor.infra import _pods as pods
from conveyor.infra._context import ExportContext

_WHAT = {
    "agent-deployment.yaml": "the agent (`conveyor agent`): one replica, `Recreate`",
    "configmap.yaml": "`conveyor.yaml`, mounted into every pod",
    "kustomization.yaml": "the kustomize base listing the manifests",
    "monitor-cronjob.yaml": "`conveyor monitor run --env {env}` on schedule `{schedule}`",
    "predictor-deployment.yaml": "the prediction server (`conveyor serve --env {env}`)",
    "predictor-hpa.yaml": "autoscaling of the prediction server on CPU",
    "predictor-pdb.yaml": "at most one prediction pod down during node drains",
    "predictor-service.yaml": "the prediction server's Service (port 8080)",
    "server-deployment.yaml": "the team server (`conveyor server`, REST API and web UI)",
    "server-service.yaml": "the team server's Service (port 8765)",
    "training-job.yaml": "a training run (`conveyor ci`); not in the base, start it by hand",
    "secrets.example.env": "the keys of the Secret to create",
}


def secrets_example(ctx: ExportContext) -> str:
    """``secrets.example.env``: every key the pods read, commented, with no value."""
    lines = [
        f"# Keys of the Secret {pods.secret_name(ctx)!r}. Copy to secrets.env (keep it out",
        "# of git), fill in the values you use, then:",
        f"#   kubectl -n {ctx.kubernetes.namespace} create secret generic "
        f"{pods.secret_name(ctx)} --from-env-file=secrets.env",
        "# Keys marked optional may be left out; CONVEYOR_METADATA_URL is required.",
    ]
    for name, optional, note in pods.secret_keys(ctx):
        lines.append(f"# {note}{' (optional)' if optional else ''}")
        lines.append(f"{name}=")
    return "\n".join(lines) + "\n"


def readme(ctx: ExportContext, files: Mapping[str, str]) -> str:
    """The README: what each file is, the Secret to create, how to apply."""
    ns = ctx.kubernetes.namespace
    service = ctx.name(per_env=True)
    schedule = _schedule(files)
    rows = "\n".join(
        f"| `{name}` | {_WHAT[name].format(env=ctx.env, schedule=schedule)} |"
        for name in sorted({*files, "README.md"} - {"README.md"})
        if name in _WHAT
    )
    hosts = ", ".join(
        [service, f"{service}.{ns}", f"{service}.{ns}.svc", f"{service}.{ns}.svc.cluster.local"]
    )
    auth = (
        "`serving.auth` is `none`, so the prediction server runs with `--insecure`: anyone "
        "who can reach the Service can predict. Set `serving: {auth: token}` to require "
        "predictor tokens."
        if ctx.settings.serving.auth == "none"
        else "Prediction routes need a predictor token (`serving.auth: token`)."
    )
    training = (
        f"Start a training run with `kubectl -n {ns} create -f training-job.yaml`. It runs "
        "`conveyor ci`, so its image must hold the project's pipeline code: an image built "
        "from the repository, not the model-only image of `conveyor build` (edit `image:`)."
        if "training-job.yaml" in files
        else "No training Job: set `pipelines.training` in conveyor.yaml to get one."
    )
    return f"""
# Kubernetes manifests of `{ctx.project}`, environment `{ctx.env}`

Image `{ctx.image}`, namespace `{ns}`.

| File | What it is |
| --- | --- |
{rows}

## 1. Create the Secret

The manifests reference the Secret `{pods.secret_name(ctx)}` by key and never hold a
credential. Copy `secrets.example.env` to `secrets.env`, fill it in, then:

    kubectl -n {ns} create secret generic {pods.secret_name(ctx)} --from-env-file=secrets.env

## 2. Apply

    kubectl apply -k .

{training}

## Notes

- {auth}
- Clients reach the prediction server as `http://{service}.{ns}.svc:8080`. Its pods answer
  the `Host` names of `serving.allowed_hosts` plus the Service's ({hosts}) and
  `kubernetes.hosts` (add an Ingress name there); probes send `Host: localhost`.
- The team server binds all interfaces only when `server.allowed_hosts` names a host other
  than loopback (e.g. `{ctx.name("-server")}.{ns}.svc`).
- Pods run as uid {pods.RUN_AS} with a read-only root filesystem; `/tmp` and the project's
  `.conveyor` folder are emptyDir volumes, so the metadata database and the artifacts live
  outside the pods, shared by all of them (`CONVEYOR_METADATA_URL`, `CONVEYOR_ARTIFACT_URL`).
- Keep local changes in a kustomize overlay that uses this folder as its base: exporting
  again replaces every file here and refuses to touch a file it did not write.
"""


def _schedule(files: Mapping[str, str]) -> str:
    for line in files.get("monitor-cronjob.yaml", "").splitlines():
        if line.strip().startswith("schedule:"):
            return line.split(":", 1)[1].strip().strip("'\"")
    return "?"
