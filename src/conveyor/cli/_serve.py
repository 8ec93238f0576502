"""``conveyor serve``: the prediction server for one model version or one environment.

``--model`` serves one registered version. ``--env`` serves whatever the environment's
deployment says and follows its revisions; the same process also runs the deployment
controller's loop (``Controller.run_loop``) in a background thread, so canaries advance,
promote and roll back on their own while the server runs.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from conveyor.cli._output import console, open_workspace

if TYPE_CHECKING:
    from conveyor.serving import ServingSettings

_log = logging.getLogger("conveyor.serving")


def register(app: typer.Typer) -> None:
    """Attach ``serve`` to the root app."""
    app.command("serve")(serve)


def serve(  # noqa: PLR0917 - Typer options are parameters
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="NAME@VERSION or NAME@ALIAS (churn@champion)."),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Serve this environment's deployment and run its controller."
        ),
    ] = None,
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
    prepare_explainers: Annotated[
        bool,
        typer.Option(
            "--prepare-explainers/--lazy-explainers",
            help="Build each version's SHAP explainer before it is ready (slower start, more "
            "memory; no first /v1/explain stalls predictions), or on the first /v1/explain.",
        ),
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve on a non-loopback --host with serving.auth: none (anyone who can "
            "reach the port can predict).",
        ),
    ] = False,
) -> None:
    """Serve a registered model or an environment over HTTP (conveyor API, MLflow, KServe v2).

    With --model the alias is resolved once at start, so every worker serves the same
    version, and every stored file of it (native model and ONNX twin) is checked against its
    hash first. With --env every worker follows the environment's deployment (weights,
    shadow, new revisions), logs each rollout transition with its reason, and this process
    advances its rollouts; with --workers N the workers switch to a new revision
    together, once all have loaded it. Explainers are built on the first /v1/explain,
    so a server that only predicts imports neither SHAP nor the native model beside its
    ONNX twin. Stop with Ctrl-C or SIGTERM: requests in flight finish and logged
    predictions are flushed.

    With serving.auth: none (the default) a --host other than loopback is refused unless
    --insecure is given; with serving.auth: token prediction routes need a token (see
    `conveyor tokens`). Host headers are checked against serving.allowed_hosts either way.

    Exit codes: 0 stopped; 1 error (configuration, not found); 3 the version's files were
    tampered with or damaged (audited as model.integrity_failed); 6 the port is in use.
    """
    from conveyor.serving import ServingConfigError, ServingSettings
    from conveyor.serving._launch import check_port, verify_version
    from conveyor.serving._launch import serve as run_server

    if (model is None) == (env is None):
        raise ServingConfigError(
            "Pass exactly one of --model and --env"
            + (f" (got --model {model} and --env {env})." if model else " (got neither)."),
            hint="`conveyor serve --model churn@champion` or `conveyor serve --env production`.",
        )
    settings = ServingSettings(
        max_body_bytes=max_body_bytes,
        max_batch_rows=max_batch_rows,
        extra_columns=extra_columns,  # type: ignore[arg-type]  # validated by ServingSettings
        non_finite=non_finite,  # type: ignore[arg-type]
        micro_batch=micro_batch,
        log_predictions=log_predictions,
        prepare_explainers=prepare_explainers,
    )
    _check_exposure(host, insecure=insecure)
    check_port(host, port)
    if model is not None:
        with open_workspace() as ws:
            version = verify_version(ws, model)
            root = Path(ws.root)
        ref = f"{version.name}@{version.version}"
        console().print(
            f"Serving [bold]{ref}[/] ({model}) on http://{host}:{port} with {workers} "
            "worker(s); Ctrl-C stops."
        )
        run_server(
            root,
            ref,
            host=host,
            port=port,
            workers=workers,
            settings=settings,
            prefer_onnx=onnx,
        )
        return
    if env is not None:
        _serve_environment(env, host=host, port=port, workers=workers, settings=settings, onnx=onnx)


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_exposure(host: str, *, insecure: bool) -> None:
    """Refuse to serve beyond this machine without authentication, unless ``--insecure``."""
    from conveyor.serving import ServingConfigError

    if _is_loopback(host):
        return
    with open_workspace() as ws:
        auth = ws.settings.config.serving.auth
    if auth != "none":
        return
    if not insecure:
        raise ServingConfigError(
            f"Refusing to serve on host {host!r} without authentication (serving.auth: none): "
            "anyone who can reach the port could call the model.",
            hint="Set `serving: {auth: token}` in conveyor.yaml and create a predictor token "
            "with `conveyor tokens create NAME --role predictor`, or pass --insecure.",
            host=host,
        )
    message = (
        f"INSECURE: serving on {host} with serving.auth: none; anyone who can reach this "
        "port can call the model (--insecure)."
    )
    _log.warning(message)
    Console(stderr=True).print(f"[bold red]{escape(message)}[/]", highlight=False)


def _serve_environment(
    env: str, *, host: str, port: int, workers: int, settings: ServingSettings, onnx: bool
) -> None:
    """Serve ``env`` and run its deployment controller until the server stops."""
    import threading

    from conveyor.rollout import Controller
    from conveyor.serving import ServingConfigError
    from conveyor.serving._launch import serve as run_server

    with open_workspace() as ws:
        configured = ws.settings.config.environments
        if env not in configured:
            raise ServingConfigError(
                f"Environment {env!r} is not in the configuration; configured: "
                f"{', '.join(sorted(configured)) or 'none'}.",
                hint="Declare it under `environments:` in conveyor.yaml.",
                environment=env,
            )
        stop = threading.Event()
        controller = threading.Thread(
            target=Controller(ws).run_loop,
            args=([env],),
            kwargs={"stop": stop},
            name="conveyor-controller",
            daemon=True,
        )
        controller.start()
        console().print(
            f"Serving environment [bold]{env}[/] on http://{host}:{port} with {workers} "
            "worker(s), following its deployment; Ctrl-C stops."
        )
        try:
            run_server(
                Path(ws.root),
                environment=env,
                host=host,
                port=port,
                workers=workers,
                settings=settings,
                prefer_onnx=onnx,
            )
        finally:
            stop.set()
            controller.join(30)
