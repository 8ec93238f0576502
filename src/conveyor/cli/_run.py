"""``conveyor run``, ``repro``, the ``export`` group and ``step-exec``."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from conveyor.cli._export import register_exports
from conveyor.cli._export_airflow import export_airflow
from conveyor.cli._output import console, open_workspace, print_json

if TYPE_CHECKING:
    from conveyor.core._progress import ProgressEvent
    from conveyor.pipelines import PipelineRun
    from conveyor.workspace import Workspace

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_PARAMS = Annotated[
    list[str] | None, typer.Option("-p", "--param", help="Parameter KEY=VALUE (repeatable).")
]
_EXECUTOR = Annotated[str, typer.Option("--executor", help="local (default) or ray.")]

export_app = typer.Typer(
    help="Export pipelines and deployments to other platforms (KFP, Airflow, Kubernetes, KServe).",
    no_args_is_help=True,
)


def _workspace() -> Workspace:
    return open_workspace()


def register(app: typer.Typer) -> None:
    """Attach the pipeline-running commands to the root app."""
    app.command("run")(run)
    app.command("repro")(repro)
    app.command("step-exec", hidden=True)(step_exec)
    app.add_typer(export_app, name="export")


def run(  # noqa: PLR0917 - Typer options are parameters
    ref: Annotated[str, typer.Argument(help="MODULE:PIPELINE or path/to/file.py:PIPELINE.")],
    param: _PARAMS = None,
    executor: _EXECUTOR = "local",
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster: auto or ray://host:port.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Re-run every step.")] = False,
    resume: Annotated[
        str | None,
        typer.Option("--resume", help="Resume a failed run: re-run what did not finish."),
    ] = None,
    max_workers: Annotated[
        int | None, typer.Option("--max-workers", help="Concurrent steps (local executor).")
    ] = None,
    json_out: _JSON = False,
) -> None:
    """Run a pipeline; print each step's status and the run id (exit 1 if a step failed).

    Progress goes to stderr as the steps run: one live line per step (cached, running,
    done with its time; tuning trials with the best value so far) on a terminal, plain
    lines otherwise.
    """
    from conveyor.pipelines import PipelineFailedError, load_pipeline
    from conveyor.pipelines._params import parse_assignments

    params = parse_assignments(param or [])
    with _workspace() as ws:
        pipeline = load_pipeline(ref, ws.root)
        try:
            with StepProgress(Console(stderr=True, highlight=False)) as progress:
                result = pipeline.run(
                    ws,
                    params=params,
                    executor=executor,
                    cache=not no_cache,
                    resume=resume,
                    ray_address=ray_address,
                    max_workers=max_workers,
                    progress=progress,
                )
        except PipelineFailedError as exc:
            if exc.result is not None:
                _show_run(exc.result, json_out, stderr=True)
            raise
    _show_run(result, json_out)


class StepProgress:
    """Renders pipeline progress events: live rich lines on a terminal, else plain lines.

    Used as a context manager around the run; the instance is the progress hook. Thread-
    safe: trials report from the threads running the steps.
    """

    def __init__(self, out: Console) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._live: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        if out.is_terminal:
            self._live = Progress(
                SpinnerColumn(finished_text=" "),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=out,
                transient=False,
            )

    def __enter__(self) -> StepProgress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def __call__(self, event: ProgressEvent) -> None:
        """Show one event (the :data:`~conveyor.core._progress.ProgressHook`)."""
        with self._lock:
            if self._live is None:
                self._out.print(event.line(), markup=False, highlight=False)
            elif event.kind in ("step", "phase"):
                self._step(self._live, event)
            elif event.kind == "trial":
                self._trial(self._live, event)

    def _step(self, live: Progress, event: ProgressEvent) -> None:
        task = self._tasks.get(event.name)
        if task is None:
            task = live.add_task(event.name, total=1)
            self._tasks[event.name] = task
        time = "" if event.elapsed_s is None else f" {event.elapsed_s:.2f} s"
        style, mark = _STATE_STYLES.get(event.state, ("default", ""))
        text = f"{escape(event.name)}  [{style}]{mark}{event.state}{time}[/]"
        live.update(task, description=text)
        if event.state not in {"running", "retrying"}:
            live.update(task, completed=1)

    def _trial(self, live: Progress, event: ProgressEvent) -> None:
        step = event.detail.get("step")
        task = self._tasks.get(str(step)) if step else None
        if task is None:
            return
        number, total = event.detail.get("number"), event.detail.get("n_trials")
        best = event.detail.get("best")
        of = f"/{total}" if total else ""
        shown = "-" if best is None else f"{best:.6g}"
        live.update(
            task,
            description=f"{escape(str(step))}  running  trial {number}{of}, best {shown}",
        )


_STATE_STYLES = {
    "running": ("yellow", ""),
    "retrying": ("yellow", ""),
    "done": ("green", "✓ "),
    "cached": ("cyan", "↺ "),
    "resumed": ("cyan", "↺ "),
    "failed": ("red", "✗ "),
    "skipped": ("dim", "- "),
}


def _show_run(result: PipelineRun, json_out: bool, *, stderr: bool = False) -> None:
    if json_out:
        if stderr:
            Console(stderr=True).print_json(json.dumps(result.to_dict(), default=str))
        else:
            print_json(result)
        return
    out = Console(stderr=True) if stderr else console()
    table = Table(title=f"{result.pipeline} ({result.pipeline_ref})")
    for column in ("step", "status", "cached from", "wall s", "attempts"):
        table.add_column(column)
    for s in result.steps.values():
        status = f"{s.status} (resumed)" if s.reused else s.status
        wall = "-" if s.wall_s is None else f"{s.wall_s:.3f}"
        cached = s.cached_from[:8] if s.cached_from else "-"
        table.add_row(s.name, status, cached, wall, str(s.attempts))
    out.print(table)
    hits = sum(s.status == "cached" for s in result.steps.values())
    note = " (fully cached)" if hits == len(result.steps) else ""
    out.print(f"Run [bold]{result.run_id}[/] {result.status}{note}.")


def repro(
    run_id: Annotated[str, typer.Argument(help="The pipeline run to reproduce.")],
    executor: _EXECUTOR = "local",
    json_out: _JSON = False,
) -> None:
    """Re-run RUN with its parameters and exact dataset versions; compare its metrics."""
    from conveyor.pipelines._repro import reproduce

    with _workspace() as ws, StepProgress(Console(stderr=True, highlight=False)) as progress:
        outcome = reproduce(ws, run_id, executor=executor, progress=progress)
    if json_out:
        print_json(outcome)
        return
    err = Console(stderr=True)
    if outcome.code_changed:
        err.print(
            "[yellow]warning:[/] the code differs from the original run's "
            f"({_code(outcome.original_code)} then, {_code(outcome.current_code)} now)."
        )
    table = Table(title=f"Reproduction of {outcome.original_id[:8]} as {outcome.run.short_id}")
    for column in ("metric", "original", "reproduced", "delta"):
        table.add_column(column)
    for key, (before, after) in outcome.metrics.items():
        delta = "-" if before is None or after is None else f"{after - before:+.6g}"
        table.add_row(key, _num(before), _num(after), delta)
    console().print(table if outcome.metrics else "The run logged no metrics.")
    console().print(f"Run [bold]{outcome.run.run_id}[/] {outcome.run.status}.")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _code(code: dict[str, Any] | None) -> str:
    if not code:
        return "no git"
    commit = str(code.get("commit") or "?")[:10]
    return commit + (" dirty" if code.get("dirty") else "")


@export_app.command("kfp")
def export_kfp(
    ref: Annotated[str, typer.Argument(help="MODULE:PIPELINE or path/to/file.py:PIPELINE.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="YAML file to write.")],
    image: Annotated[
        str, typer.Option("--image", help="Container image for every step.")
    ] = "python:3.11-slim",
    param: _PARAMS = None,
) -> None:
    """Compile a pipeline to Kubeflow Pipelines YAML (each step runs `conveyor step-exec`)."""
    from conveyor.pipelines import export_kfp as export
    from conveyor.pipelines import load_pipeline
    from conveyor.pipelines._params import parse_assignments

    with _workspace() as ws:
        pipeline = load_pipeline(ref, ws.root)
    path = export(pipeline, output, image=image, params=parse_assignments(param or []))
    console().print(f"Wrote {path} ({pipeline.ref}).")


def step_exec(
    pipeline_ref: Annotated[str, typer.Option("--pipeline", help="MODULE:PIPELINE.")],
    step: Annotated[str, typer.Option("--step", help="Node name.")],
    run_id: Annotated[str, typer.Option("--run-id", help="External run id (KFP job id).")],
    params: Annotated[str, typer.Option("--params", help="Parameters as JSON.")] = "{}",
    no_retries: Annotated[
        bool,
        typer.Option(
            "--no-retries", help="One attempt only: the orchestrator calling this retries."
        ),
    ] = False,
) -> None:
    """Run one step of a pipeline run (what exported container components execute)."""
    from conveyor.pipelines import load_pipeline
    from conveyor.pipelines._stepexec import execute_node

    with _workspace() as ws:
        pipeline = load_pipeline(pipeline_ref, ws.root)
        result = execute_node(
            ws, pipeline, step, run_id, json.loads(params), retries=not no_retries
        )
    console().print(f"Step {step} {result.status} (run {result.run_id}).")


# The export group's other commands, once, after `kfp` (the group is a module-level app that
# every built root mounts, so registering in `register` would add them again each time).
export_app.command("airflow")(export_airflow)
register_exports(export_app)
