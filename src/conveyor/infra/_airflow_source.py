"""The text of an Airflow DAG file: every value enters it as a Python literal (``repr``).

The file imports Airflow alone (the scheduler need not have conveyor): Airflow 3's
``airflow.sdk`` and the standard provider's ``BashOperator``, else Airflow 2's modules.
Names, paths and the conveyor executable reach the shell as ``$'...'`` words whose every
character outside ``[A-Za-z0-9_./:=@+,-]`` is a ``\\xHH`` escape, so neither bash nor
Airflow's Jinja templating (which renders ``bash_command`` and ``env``) can read anything
into them; the only templates are the run id and the parameters, written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dag_source", "params_template"]

_HEADER = '''"""Airflow DAG running a conveyor pipeline, one task per step: `conveyor step-exec`.

Written by `conveyor export airflow`: export again rather than edit. Steps hand their
outputs to each other through the project's stores, so every worker needs conveyor, the
project folder and the project's settings. Read when the file is parsed:
CONVEYOR_AIRFLOW_PROJECT_DIR (the project folder on the workers) and CONVEYOR_AIRFLOW_BIN
(the conveyor executable) override the values exported below.
"""

from __future__ import annotations

import datetime
import os

try:  # Airflow 3
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models.param import Param
try:
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2 without the standard provider
    from airflow.operators.bash import BashOperator
'''

_BODY = r"""
#: Characters a bash word keeps as they are; every other one becomes a \xHH escape, so
#: neither bash nor Jinja (Airflow renders bash_command) reads anything into the value.
_PLAIN = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@+,-"
)


def _bash_word(text: str) -> str:
    escaped = "".join(
        char if char in _PLAIN else "".join(f"\\x{byte:02x}" for byte in char.encode())
        for char in text
    )
    return "$'" + escaped + "'"


def _command(step: str) -> str:
    return " ".join(
        [
            "cd",
            _bash_word(PROJECT_DIR),
            "&&",
            "exec",
            _bash_word(CONVEYOR_BIN),
            "step-exec",
            "--pipeline",
            _bash_word(PIPELINE_REF),
            "--step",
            _bash_word(step),
            "--run-id",
            '"$CONVEYOR_AIRFLOW_RUN_ID"',
            "--params",
            '"$CONVEYOR_AIRFLOW_PARAMS"',
            "--no-retries",
        ]
    )


with DAG(
    dag_id=DAG_ID,
    description=DESCRIPTION,
    schedule=SCHEDULE,
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    params=PARAMS,
    tags=["conveyor"],
) as dag:
    tasks = {}
    for task_id, (step, retries, upstream) in STEPS.items():
        tasks[task_id] = BashOperator(
            task_id=task_id,
            bash_command=_command(step),
            env={"CONVEYOR_AIRFLOW_RUN_ID": RUN_ID, "CONVEYOR_AIRFLOW_PARAMS": PARAMS_JSON},
            append_env=True,
            retries=retries,
        )
        for name in upstream:
            tasks[name] >> tasks[task_id]
"""


def params_template(names: Sequence[str]) -> str:
    """The Jinja template that renders the pipeline's parameters as one JSON object.

    Only the pipeline's own parameters are sent (a run's ``conf`` may carry other keys);
    their names are Python identifiers, so they sit safely in a Jinja string literal.
    """
    if not names:
        return "{}"
    items = ", ".join(f"{name!r}: params[{name!r}]" for name in names)
    return "{{ {" + items + "} | tojson }}"


def dag_source(
    *,
    dag_id: str,
    description: str,
    pipeline_ref: str,
    project_dir: str,
    conveyor_bin: str,
    schedule: str | None,
    params: Mapping[str, tuple[Any, Mapping[str, Any]]],
    steps: Mapping[str, tuple[str, int, Sequence[str]]],
) -> str:
    """The DAG file's text.

    Args:
        dag_id: A valid Airflow DAG id.
        description: The DAG's description.
        pipeline_ref: What ``conveyor step-exec --pipeline`` loads.
        project_dir: The project folder on the workers.
        conveyor_bin: The conveyor executable on the workers.
        schedule: An Airflow schedule (cron or preset), or ``None`` for manual runs.
        params: ``{name: (default, JSON-schema keywords)}``; values are JSON-able.
        steps: ``{task_id: (node name, retries, upstream task ids)}`` in DAG order.

    Returns:
        Python source that imports only Airflow and the standard library.
    """
    run_id = "airflow:" + dag_id + ":{{ run_id }}"
    param_lines = [
        f"    {name!r}: Param({', '.join([repr(default), *_keywords(schema)])}),"
        for name, (default, schema) in params.items()
    ]
    step_lines = [
        f"    {task_id!r}: ({node!r}, {retries!r}, {list(upstream)!r}),"
        for task_id, (node, retries, upstream) in steps.items()
    ]
    settings = [
        "",
        f"DAG_ID = {dag_id!r}",
        f"DESCRIPTION = {description!r}",
        f"PIPELINE_REF = {pipeline_ref!r}",
        f"SCHEDULE = {schedule!r}",
        f'PROJECT_DIR = os.environ.get("CONVEYOR_AIRFLOW_PROJECT_DIR") or {project_dir!r}',
        f'CONVEYOR_BIN = os.environ.get("CONVEYOR_AIRFLOW_BIN") or {conveyor_bin!r}',
        "#: The pipeline run every task of one DAG run belongs to (step-exec's --run-id).",
        f"RUN_ID = {run_id!r}",
        f"PARAMS_JSON = {params_template(list(params))!r}",
        "#: The pipeline's parameters, with the defaults of the export.",
        "PARAMS = {" if param_lines else "PARAMS = {}",
        *([*param_lines, "}"] if param_lines else []),
        "#: task id: (step, retries, upstream task ids), in an order that runs.",
        "STEPS = {",
        *step_lines,
        "}",
    ]
    return _HEADER + "\n".join(settings) + "\n\n" + _BODY


def _keywords(schema: Mapping[str, Any]) -> list[str]:
    return [f"{key}={value!r}" for key, value in schema.items()]
