"""``conveyor serve``: the prediction server for one registered model version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli._output import console


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to the root app."""
    app.command("serve")(serve)


def serve(  # noqa: PLR0917 - Typer options are parameters
    model: Annotated[
        str, typer.Option("--model", "-m", help="NAME@VERSION or NAME@ALIAS (churn@champion).")
    ],
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="Larger bodies get 413.")
    ] = 1024 * 1024,
    max_batch_rows: Annotated[
        int, typer.Option("--max-batch-rows", min=1, help="More rows per request get 400.")
    ] = 10_000,
    extra_columns: Annotated[
        str, typer.Option("--extra-columns", help="ignore or reject unknown columns.")
    ] = "ignore",
    non_finite: Annotated[
        str, typer.Option("--non-finite", help="reject NaN/Infinity, or read them as null.")
    ] = "reject",
    micro_batch: Annotated[
        bool, typer.Option("--micro-batch/--no-micro-batch", help="Group concurrent single rows.")
    ] = False,
    log_predictions: Annotated[
        bool, typer.Option("--log/--no-log", help="Record every prediction in the prediction log.")
    ] = True,
    onnx: Annotated[
        bool, typer.Option("--onnx/--no-onnx", help="Serve the ONNX twin when it passed parity.")
    ] = True,
) -> None:
    """Serve a registered model over HTTP (conveyor API, MLflow /invocations, KServe v2).

    The alias is resolved once at start, so every worker serves the same version. Stop with
    Ctrl-C or SIGTERM: requests in flight finish and logged predictions are flushed.
    """
    from conveyor.serving import ServingSettings
    from conveyor.serving._launch import registry_of
    from conveyor.serving._launch import serve as run_server
    from conveyor.workspace import Workspace

    settings = ServingSettings(
        max_body_bytes=max_body_bytes,
        max_batch_rows=max_batch_rows,
        extra_columns=extra_columns,  # type: ignore[arg-type]  # validated by ServingSettings
        non_finite=non_finite,  # type: ignore[arg-type]
        micro_batch=micro_batch,
        log_predictions=log_predictions,
    )
    with Workspace.open(".") as ws:
        version = registry_of(ws).get(model)
        root = Path(ws.root)
    ref = f"{version.name}@{version.version}"
    console().print(
        f"Serving [bold]{ref}[/] ({model}) on http://{host}:{port} with {workers} worker(s); "
        "Ctrl-C stops."
    )
    run_server(root, ref, host=host, port=port, workers=workers, settings=settings)
