"""Export a pipeline to Kubeflow Pipelines YAML: one container component per node."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.errors import ConveyorError
from conveyor.pipelines._pipeline import Pipeline

_SAFE = re.compile(r"[^a-z0-9-]+")


def export_kfp(
    pipeline: Pipeline,
    path: str | Path,
    *,
    image: str = "python:3.11-slim",
    params: Mapping[str, Any] | None = None,
) -> Path:
    """Compile ``pipeline`` to a Kubeflow Pipelines (v2) YAML file.

    Each node becomes a container component running ``conveyor step-exec --pipeline REF
    --step NODE --run-id <KFP job id> --params JSON``; edges follow the DAG. Steps exchange
    values through the project's metadata and artifact stores, so the image needs
    conveyor installed, the project code, and ``CONVEYOR_*`` settings pointing at shared
    stores (PostgreSQL, S3). Parameters become pipeline inputs (one JSON string).

    Args:
        pipeline: The pipeline (its ``ref`` must be importable in the image).
        path: Output YAML file.
        image: Container image for every step.
        params: Default parameter values (validated like ``run``).

    Returns:
        The written path.

    Raises:
        ConveyorError: The kfp package is not installed.
    """
    try:
        from kfp import compiler, dsl
    except ImportError as exc:
        raise ConveyorError(
            "Exporting to Kubeflow Pipelines needs the kfp package, which is not installed.",
            hint="Install it with `pip install 'conveyor-ml[kfp]'`.",
        ) from exc
    bound = pipeline.bind(params)
    graph = pipeline.build(bound)
    order = graph.order()
    defaults = json.dumps(bound, sort_keys=True, default=str)
    components = {node.name: _component(dsl, pipeline.ref, node.name, image) for node in order}

    def body(params_json: str = defaults) -> None:
        tasks: dict[str, Any] = {}
        for node in order:
            task = components[node.name](
                run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, params_json=params_json
            )
            task.set_display_name(node.name)
            task.set_caching_options(False)  # conveyor's own cache decides
            for dep in node.deps:
                task.after(tasks[dep])
            tasks[node.name] = task

    body.__annotations__ = {"params_json": str, "return": None}
    body.__name__ = _safe(pipeline.name)
    compiled = dsl.pipeline(name=_safe(pipeline.name), description=f"conveyor {pipeline.ref}")(body)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(compiled, str(target))
    return target


def _component(dsl: Any, ref: str, node: str, image: str) -> Any:
    def component(run_id: str, params_json: str) -> Any:
        return dsl.ContainerSpec(
            image=image,
            command=["conveyor", "step-exec"],
            args=[
                "--pipeline",
                ref,
                "--step",
                node,
                "--run-id",
                run_id,
                "--params",
                params_json,
            ],
        )

    component.__annotations__ = {"run_id": str, "params_json": str, "return": dsl.ContainerSpec}
    component.__name__ = _safe(node).replace("-", "_")
    return dsl.container_component(component)


def _safe(name: str) -> str:
    return _SAFE.sub("-", name.lower()).strip("-") or "step"
