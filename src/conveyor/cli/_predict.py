"""``conveyor predict``: offline batch scoring of a Parquet or CSV file with a registered model."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from conveyor.cli._output import console, open_workspace, print_json

_EPILOG = (
    "The input is read in batches of --batch-rows rows, each checked like a request to "
    "`conveyor serve` (the column, row and value that do not fit are named), and the output "
    "is written to a temporary file renamed at the end. Exit codes: 0 scored; 1 error "
    "(unreadable input, bad value, output not writable, unknown model); 3 the version's "
    "files were tampered with or damaged."
)


def register(app: typer.Typer) -> None:
    """Attach ``predict`` to the root app."""
    app.command("predict", epilog=_EPILOG)(predict)


def predict(  # noqa: PLR0917 - Typer arguments and options are parameters
    ref: Annotated[
        str,
        typer.Argument(
            metavar="NAME@REF",
            help="NAME@VERSION, NAME@ALIAS, NAME (latest) or NAME@ENV (the version ENV serves).",
        ),
    ],
    input_path: Annotated[
        str,
        typer.Option(
            "--input", "-i", help="A .parquet or .csv file, a folder of .parquet parts, or a glob."
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The .parquet or .csv file to write.")
    ],
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1, help="Rows held in memory at once.")
    ] = 50_000,
    proba: Annotated[
        bool, typer.Option("--proba", help="Add a proba_<class> column per class.")
    ] = False,
    keep: Annotated[
        list[str] | None,
        typer.Option("--keep", help="Copy only this input column (repeatable; default: all)."),
    ] = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="Score Parquet row groups on Ray (ray.init()'s cluster).")
    ] = False,
    non_finite: Annotated[
        str, typer.Option("--non-finite", help="reject NaN/Infinity, or read them as null.")
    ] = "reject",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Score a file with a registered model version, in bounded memory (optionally on Ray).

    The output holds the input columns (or --keep ones) and `prediction`; with --proba one
    probability column per class. The run is audited as model.batch_predict with the
    input's hash, the version and the output path.
    """
    from conveyor.cli._output import progress_bar
    from conveyor.serving import ServingSettings, predict_file
    from conveyor.serving._batch_io import shown

    settings = ServingSettings(
        max_batch_rows=batch_rows,
        non_finite=non_finite,  # type: ignore[arg-type]  # validated by ServingSettings
    )
    with (
        _stopped_by_sigterm(),
        open_workspace() as ws,
        progress_bar(enabled=not json_out) as update,
    ):
        result = predict_file(
            ws,
            ref,
            input_path,
            output,
            batch_rows=batch_rows,
            proba=proba,
            keep=keep or None,
            executor="ray" if ray else "local",
            settings=settings,
            on_batch=lambda rows, _batches, total: update("Scoring rows", rows, total),
        )
    if json_out:
        print_json(result.to_dict())
        return
    rate = result.rows / result.seconds if result.seconds > 0 else 0.0
    console().print(
        f"Scored [bold]{result.rows:,}[/] rows in {result.batches} batch(es) with "
        f"[bold]{escape(result.model)}@{result.version}[/] ({result.executor}, "
        f"{result.seconds:.1f} s, {rate:,.0f} rows/s) -> {escape(shown(result.output))}"
    )


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's timeout) unwinds the run like Ctrl-C: the temporary
    output file is removed instead of left behind by an abrupt exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        sys.exit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
