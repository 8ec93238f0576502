"""``conveyor export k8s`` and ``export kserve``: an environment as Kubernetes manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from conveyor.cli._output import console, open_workspace, print_json

_ENV = Annotated[str, typer.Option("--env", "-e", help="The environment to export.")]
_IMAGE = Annotated[
    str | None,
    typer.Option("--image", help="Container image (default: kubernetes.image in conveyor.yaml)."),
]
_JSON = Annotated[bool, typer.Option("--json", help="Print the written files as JSON.")]


def register_exports(export_app: typer.Typer) -> None:
    """Attach ``k8s`` and ``kserve`` to the ``export`` group."""
    export_app.command("k8s")(export_k8s)
    export_app.command("kserve")(export_kserve)


def export_k8s(
    env: _ENV,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write.")],
    image: _IMAGE = None,
    json_out: _JSON = False,
) -> None:
    """Write a kustomize base running ENV on Kubernetes (`kubectl apply -k FOLDER`).

    The prediction server (Deployment, Service, PodDisruptionBudget, autoscaler), the team
    server, the agent, a monitoring CronJob, conveyor.yaml as a ConfigMap and references
    to a Secret you create (see secrets.example.env); a training Job template beside them.
    Refuses a conveyor.yaml that holds a secret, and a folder holding files it did not
    write.
    """
    from conveyor.infra._k8s import export_k8s as export

    with open_workspace() as ws:
        paths = export(ws, env, output, image=image)
    if json_out:
        print_json({"environment": env, "files": [str(p) for p in paths]})
        return
    console().print(
        f"Wrote {len(paths)} files to {escape(str(output))}. Create the Secret (see "
        f"{escape(str(output / 'secrets.example.env'))}), then `kubectl apply -k "
        f"{escape(str(output))}`."
    )


def export_kserve(
    env: _ENV,
    output: Annotated[Path, typer.Option("-o", "--output", help="YAML file to write.")],
    image: _IMAGE = None,
    scale_to_zero: Annotated[
        bool,
        typer.Option(
            "--scale-to-zero", help="minReplicas 0 (serverless; also kubernetes.scale_to_zero)."
        ),
    ] = False,
    json_out: _JSON = False,
) -> None:
    """Write a KServe InferenceService serving ENV's model with the conveyor image.

    The container speaks the Open Inference Protocol on port 8080; a canary environment
    gets canaryTrafficPercent (the running canary's weight, else its first step).
    """
    from conveyor.infra._kserve import export_kserve as export

    with open_workspace() as ws:
        path = export(ws, env, output, image=image, scale_to_zero=scale_to_zero)
    if json_out:
        print_json({"environment": env, "files": [str(path)]})
        return
    console().print(f"Wrote {escape(str(path))}. Apply it with `kubectl apply -f {path}`.")
