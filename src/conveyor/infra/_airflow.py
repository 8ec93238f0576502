"""Export a pipeline as an Airflow DAG file: one ``BashOperator`` task per step.

Each task runs ``conveyor step-exec`` (as the Kubeflow export's containers do) in the
project folder on the worker; the tasks of one DAG run share one pipeline run, whose
external id is ``airflow:<dag id>:<Airflow run id>``. Step and pipeline names that are
not Airflow ids are mapped (see :func:`airflow_id`).
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.config import find_root
from conveyor.core import hash_bytes
from conveyor.errors import ConveyorError
from conveyor.infra._airflow_source import dag_source

if TYPE_CHECKING:
    from conveyor.pipelines import Pipeline
    from conveyor.pipelines._graph import Graph

__all__ = ["AirflowDag", "AirflowExportError", "airflow_dag", "airflow_id", "export_airflow"]

_ID_OTHER = re.compile(r"[^A-Za-z0-9_.-]+")
_ID_VALID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_ID_MAX = 250  # Airflow's ID_LEN


class AirflowExportError(ConveyorError, ValueError):
    """A pipeline cannot become an Airflow DAG: a step ``step-exec`` cannot run on its
    own, a parameter value Airflow cannot hold, or an invalid DAG id."""

    code = "airflow_export_error"


@dataclass(frozen=True)
class AirflowDag:
    """An exported DAG: its id, its tasks and the file's text.

    Attributes:
        dag_id: The Airflow DAG id.
        pipeline_ref: The reference each task passes to ``conveyor step-exec``.
        tasks: ``{task id: step (node) name}`` in DAG order.
        upstream: ``{task id: [upstream task ids]}``.
        params: The DAG's parameters with their defaults.
        source: The Python file.
    """

    dag_id: str
    pipeline_ref: str
    tasks: dict[str, str]
    upstream: dict[str, list[str]]
    params: dict[str, Any]
    source: str = field(repr=False)

    def write(self, path: str | Path) -> Path:
        """Write the file (creating its folder); return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.source, encoding="utf-8")
        return target


def airflow_id(name: str) -> str:
    """``name`` as an Airflow task or DAG id (letters, digits, ``_``, ``.``, ``-``; 250 at most).

    A valid name is kept. Otherwise every run of other characters becomes one ``_`` and
    ``_`` plus eight hex digits of the BLAKE3 hash of the original name are appended (the
    mapped part cut to fit), so two names differing only in what the mapping drops never
    share an id.

    Example:
        >>> airflow_id("train")
        'train'
        >>> airflow_id("<lambda>")  # doctest: +ELLIPSIS
        '_lambda__...'
    """
    if _ID_VALID.match(name):
        return name
    tag = "_" + hash_bytes(name.encode())[:8]
    return _ID_OTHER.sub("_", name)[: _ID_MAX - len(tag)] + tag


def airflow_dag(
    pipeline: Pipeline,
    *,
    params: Mapping[str, Any] | None = None,
    dag_id: str | None = None,
    schedule: str | None = None,
    project_dir: str | Path | None = None,
    conveyor_bin: str = "conveyor",
) -> AirflowDag:
    """Build the Airflow DAG file for ``pipeline`` without writing it (see :func:`export_airflow`).

    Raises:
        AirflowExportError: See :func:`export_airflow`.
        ParameterError: A parameter is unknown, missing or of the wrong type.
    """
    root = _project_root(pipeline)
    bound = pipeline.bind(params)
    graph = pipeline.build(bound)
    ref = _check_separable(pipeline, graph, bound, root)
    if dag_id is None:
        dag_id = airflow_id(pipeline.name)
    elif not _ID_VALID.match(dag_id):
        raise AirflowExportError(
            f"Invalid Airflow DAG id {dag_id!r}: use letters, digits, '_', '.' and '-' "
            "(250 at most).",
            hint=f"For example --dag-id {airflow_id(dag_id)}.",
            dag_id=dag_id,
        )
    order = graph.order()
    ids = {node.name: airflow_id(node.name) for node in order}
    if len(set(ids.values())) != len(ids):
        clash = sorted(n for n in ids if list(ids.values()).count(ids[n]) > 1)
        raise AirflowExportError(
            f"Steps {', '.join(map(repr, clash))} of pipeline {pipeline.name!r} map to "
            "the same Airflow task id.",
            hint="Rename one of the steps (@step(name=...)).",
            steps=clash,
        )
    defaults = {name: _json_value(pipeline.name, name, value) for name, value in bound.items()}
    hints = _hints(pipeline)
    steps = {
        ids[node.name]: (node.name, node.step.retries, [ids[d] for d in node.deps])
        for node in order
    }
    source = dag_source(
        dag_id=dag_id,
        description=f"conveyor pipeline {pipeline.name} ({ref})",
        pipeline_ref=ref,
        project_dir=str(project_dir) if project_dir is not None else str(root),
        conveyor_bin=conveyor_bin,
        schedule=schedule,
        params={n: (v, _schema(hints.get(n, Any))) for n, v in defaults.items()},
        steps=steps,
    )
    return AirflowDag(
        dag_id=dag_id,
        pipeline_ref=ref,
        tasks={task: node for task, (node, _, _) in steps.items()},
        upstream={task: up for task, (_, _, up) in steps.items()},
        params=defaults,
        source=source,
    )


def export_airflow(
    pipeline: Pipeline,
    path: str | Path,
    *,
    params: Mapping[str, Any] | None = None,
    dag_id: str | None = None,
    schedule: str | None = None,
    project_dir: str | Path | None = None,
    conveyor_bin: str = "conveyor",
) -> Path:
    """Write an Airflow DAG file that runs ``pipeline`` one step per task.

    Each step becomes a ``BashOperator`` task running ``cd PROJECT_DIR && conveyor
    step-exec --pipeline REF --step NODE --run-id airflow:<dag id>:<run id> --params
    JSON``, with the step's ``retries`` as the task's (``step-exec --no-retries`` makes one attempt
    per task, so Airflow alone retries);
    dependencies follow the pipeline's graph; the pipeline's parameters are the DAG's
    typed ``Param``\\s. The file imports only Airflow (2.4+ or 3) and reads
    ``CONVEYOR_AIRFLOW_PROJECT_DIR`` and ``CONVEYOR_AIRFLOW_BIN`` when parsed. The output
    is deterministic: the same pipeline and options give the same bytes.

    Args:
        pipeline: A pipeline loaded by its reference (``load_pipeline``).
        path: The ``.py`` file to write (into the Airflow ``dags`` folder).
        params: Default parameter values (validated like ``run``).
        dag_id: The DAG id (default: the pipeline's name mapped by :func:`airflow_id`).
        schedule: A cron expression or preset (``@daily``); ``None`` for manual runs only.
        project_dir: The project folder on the Airflow workers (default: this project's).
        conveyor_bin: The conveyor executable on the workers.

    Returns:
        The written path.

    Raises:
        AirflowExportError: A step cannot run as its own process (the pipeline does not
            load by its reference, or building it again does not give the same steps), a
            parameter value is not JSON (NaN, an object), or ``dag_id`` is not valid.
        ParameterError: A parameter is unknown, missing or of the wrong type.

    Example:
        >>> training = load_pipeline("pipelines:training")  # doctest: +SKIP
        >>> export_airflow(training, "dags/training.py")  # doctest: +SKIP
        PosixPath('dags/training.py')
    """
    dag = airflow_dag(
        pipeline,
        params=params,
        dag_id=dag_id,
        schedule=schedule,
        project_dir=project_dir,
        conveyor_bin=conveyor_bin,
    )
    return dag.write(path)


def _project_root(pipeline: Pipeline) -> Path:
    if pipeline.source_file is None:
        raise AirflowExportError(
            f"Pipeline {pipeline.name!r} has no source file, so `conveyor step-exec` "
            "cannot load it on a worker.",
            hint="Define the pipeline in a module of the project.",
            pipeline=pipeline.name,
        )
    return find_root(pipeline.source_file.parent)


def _check_separable(pipeline: Pipeline, graph: Graph, bound: dict[str, Any], root: Path) -> str:
    """The reference ``step-exec`` loads; check it rebuilds the very same steps.

    ``step-exec`` runs one step per process: it imports the pipeline by its reference
    and calls it again to rebuild the graph, then runs the node of that name. A pipeline
    that is not reachable by its reference (defined inside a function, in ``__main__``,
    bound to another name), or whose steps are named differently on each build, cannot
    run that way.
    """
    from conveyor.pipelines import load_pipeline

    try:
        reloaded = load_pipeline(pipeline.ref, root)
        rebuilt = reloaded.build(bound)
    except ConveyorError as exc:
        raise AirflowExportError(
            f"Pipeline {pipeline.name!r} cannot run one step per process: `conveyor "
            f"step-exec` loads it by its reference {pipeline.ref!r}, which fails: {exc}",
            hint="Define the pipeline at the top level of a module in the project "
            f"({root}) and export it by reference (MODULE:PIPELINE).",
            pipeline=pipeline.name,
            ref=pipeline.ref,
        ) from exc
    target = reloaded.ref.rpartition(":")[0]
    if Path(target).is_absolute():
        raise AirflowExportError(
            f"Pipeline {pipeline.name!r} is in {target!r}, outside the project {str(root)!r}, "
            "so workers running the project cannot load it.",
            hint="Move the pipeline's module into the project.",
            pipeline=pipeline.name,
            ref=reloaded.ref,
        )
    for name, node in graph.nodes.items():
        again = rebuilt.nodes.get(name)
        if again is None or again.deps != node.deps:
            found = ", ".join(rebuilt.nodes) or "(none)"
            raise AirflowExportError(
                f"Step {name!r} of pipeline {pipeline.name!r} cannot run as its own process: "
                f"building the pipeline again from {reloaded.ref!r}, as `conveyor step-exec` "
                f"does on each worker, gives {'other inputs' if again else 'no such step'} "
                f"(steps then: {found}).",
                hint="Give steps names that depend on nothing but the pipeline's "
                "parameters (no counters, random or time in @step(name=...)).",
                pipeline=pipeline.name,
                step=name,
            )
    return reloaded.ref


def _json_value(pipeline: str, name: str, value: Any) -> Any:
    """``value`` as JSON types (lists, sorted dicts), or an error naming the parameter."""
    try:
        return json.loads(json.dumps(value, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        shown = (
            "a non-finite float"
            if isinstance(value, float) and not math.isfinite(value)
            else type(value).__name__
        )
        raise AirflowExportError(
            f"Parameter {name!r} of pipeline {pipeline!r} has the value {value!r} "
            f"({shown}), which an Airflow Param cannot hold (JSON only).",
            hint=f"Pass a JSON value with -p {name}=..., or give the parameter a JSON "
            "default (string, number, boolean, list, dict, None).",
            pipeline=pipeline,
            name=name,
        ) from exc


def _hints(pipeline: Pipeline) -> dict[str, Any]:
    try:
        return typing.get_type_hints(pipeline.fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations give untyped Params
        return {}


_JSON_TYPES: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def _schema(annotation: Any) -> dict[str, Any]:
    """JSON-schema keywords (``type``, ``enum``) for a parameter's annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(annotation))}
    if origin in (typing.Union, types.UnionType):
        names = [_JSON_TYPES.get(typing.get_origin(a) or a) for a in typing.get_args(annotation)]
        if all(names):
            return {"type": sorted(set(typing.cast("list[str]", names)))}
        return {}
    name = _JSON_TYPES.get(origin or annotation)
    return {"type": name} if name else {}
