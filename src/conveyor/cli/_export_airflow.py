"""``conveyor export airflow``: a pipeline as an Airflow DAG file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli._output import console, open_workspace, print_json


def export_airflow(  # noqa: PLR0917 - Typer options are parameters
    ref: Annotated[str, typer.Argument(help="MODULE:PIPELINE or path/to/file.py:PIPELINE.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="DAG file (.py) to write.")],
    param: Annotated[
        list[str] | None,
        typer.Option("-p", "--param", help="Default parameter KEY=VALUE (repeatable)."),
    ] = None,
    dag_id: Annotated[
        str | None,
        typer.Option("--dag-id", help="DAG id (default: the pipeline's name, mapped)."),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option("--schedule", help="Cron expression or preset (@daily); default none."),
    ] = None,
    project_dir: Annotated[
        str | None,
        typer.Option(
            "--project-dir", help="The project folder on the Airflow workers (default: this one)."
        ),
    ] = None,
    conveyor_bin: Annotated[
        str,
        typer.Option("--conveyor-bin", help="The conveyor executable on the Airflow workers."),
    ] = "conveyor",
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Write an Airflow DAG with one task per step (each runs `conveyor step-exec`)."""
    from conveyor.infra._airflow import airflow_dag
    from conveyor.pipelines import load_pipeline
    from conveyor.pipelines._params import parse_assignments

    with open_workspace() as ws:
        pipeline = load_pipeline(ref, ws.root)
        root = ws.root
    dag = airflow_dag(
        pipeline,
        params=parse_assignments(param or []),
        dag_id=dag_id,
        schedule=schedule,
        project_dir=project_dir if project_dir is not None else str(root),
        conveyor_bin=conveyor_bin,
    )
    path = dag.write(output)
    if json_out:
        print_json(
            {
                "path": str(path),
                "dag_id": dag.dag_id,
                "pipeline": dag.pipeline_ref,
                "tasks": dag.tasks,
                "upstream": dag.upstream,
                "params": dag.params,
            }
        )
        return
    console().print(
        f"Wrote {path}: DAG {dag.dag_id!r} with {len(dag.tasks)} tasks ({dag.pipeline_ref})."
    )
