"""Serving from a workspace: what ``conveyor serve --model`` and ``--env`` run.

``--model`` serves one registered version (:func:`build_app`); ``--env`` serves an
environment's deployment and follows its revisions (:func:`build_env_app`). One process or
many: with ``workers > 1`` uvicorn starts worker processes that each call
:func:`app_from_environment`, which opens the workspace and loads the models itself (the
model reference or environment and the settings travel in ``CONVEYOR_SERVE_*`` variables).
Each app loads its models in the background (readiness is false until then), logs
predictions through a :class:`~conveyor.predictions.PredictionLogger` whose spill folder is
shared by all workers (spill files are claimed atomically), and flushes the logger then
closes the workspace on shutdown. Loading and verifying a version is
:mod:`conveyor.serving._loading`'s; its names stay importable from here.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import shutil
import socket
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from conveyor.config import process_env, set_process_env
from conveyor.core import RedactingFilter
from conveyor.errors import ConveyorError
from conveyor.registry.flavors import Signature
from conveyor.remote import RemoteTokens
from conveyor.security import BaseTokenRecords, SqlTokenRecords
from conveyor.serving._app import create_app
from conveyor.serving._auth import ServingAccess
from conveyor.serving._errors import PortInUseError, ServingConfigError
from conveyor.serving._follow import (
    DeploymentCollector,
    DeploymentFollower,
    ReportCollector,
    SwitchBoard,
)
from conveyor.serving._heap import release_heap, settle_heap
from conveyor.serving._host import ModelHost
from conveyor.serving._loading import archive_class_labels as archive_class_labels  # noqa: PLC0414 - re-exported
from conveyor.serving._loading import audit_integrity_failure as audit_integrity_failure  # noqa: PLC0414 - re-exported
from conveyor.serving._loading import model_loader
from conveyor.serving._loading import verified_files as verified_files  # noqa: PLC0414 - re-exported
from conveyor.serving._loading import verify_version as verify_version  # noqa: PLC0414 - re-exported
from conveyor.serving._model import ServedModel
from conveyor.serving._routing import DeploymentRouter
from conveyor.serving._settings import ServingSettings
from conveyor.serving._tempdirs import close_all, reap_stale_folders

ENV_ROOT = "CONVEYOR_SERVE_ROOT"
ENV_MODEL = "CONVEYOR_SERVE_MODEL"
ENV_SETTINGS = "CONVEYOR_SERVE_SETTINGS"
ENV_ENVIRONMENT = "CONVEYOR_SERVE_ENV"
ENV_ONNX = "CONVEYOR_SERVE_ONNX"
ENV_SWITCH = "CONVEYOR_SERVE_SWITCH"
ENV_WORKERS = "CONVEYOR_SERVE_WORKERS"
SPILL_FOLDER = Path(".conveyor") / "spill" / "predictions"


def _logger(ws: Any, settings: ServingSettings, refs: Iterable[str] = ()) -> Any:
    """The prediction logger (``None`` when predictions are not logged).

    Personal-data columns, configured or flagged in the signatures of the versions
    ``refs`` name, are masked before a prediction is queued or spilled; with the hash
    policy and no key, the server refuses to start (PiiKeyMissingError).
    """
    if not settings.log_predictions:
        return None
    from conveyor.predictions import PredictionLogger, pii_policy

    ws.predictions.privacy = pii_policy(ws.settings, signature_columns=_served_pii(ws, refs))
    logger = PredictionLogger(ws.predictions, spill_dir=Path(ws.root) / SPILL_FOLDER)
    logger.recover_spill()
    return logger


def _usage_meter(ws: Any, settings: ServingSettings) -> Any:
    """The meter writing this process's usage records (what ``conveyor cost`` prices)."""
    from conveyor.predictions import UsageMeter

    return UsageMeter(
        ws.predictions.records,
        ws.actor,
        environment=settings.environment,
        interval_s=settings.usage_interval_s,
    )


def _served_pii(ws: Any, refs: Iterable[str]) -> set[str]:
    """The personal-data columns flagged in the signatures of the versions ``refs`` name.

    A reference that does not resolve adds nothing: its load fails later, and the server
    never turns ready on it.
    """
    columns: set[str] = set()
    for ref in refs:
        try:
            version = ws.models.get(ref)
        except ConveyorError:
            continue
        columns.update(_signature_pii(version.signature))
    return columns


def _signature_pii(signature: Any) -> list[str]:
    """Input columns a signature (object or dict) flags as personal data."""
    if isinstance(signature, dict):
        signature = Signature.from_dict(signature)
    return list(getattr(signature, "pii_columns", None) or [])


def _on_load(ws: Any, settings: ServingSettings, settle: bool) -> Callable[[ServedModel], None]:
    """What runs on each loaded version before it is ready: the personal-data guard, then
    (in a server's own process) the heap settled."""
    guard = _pii_guard(ws, settings)
    if not settle:
        return guard

    def on_load(model: ServedModel) -> None:
        guard(model)
        settle_heap()

    return on_load


def _pii_guard(ws: Any, settings: ServingSettings) -> Callable[[ServedModel], None]:
    """Widen the log's masking to each loaded version's personal-data columns.

    The columns known at startup are masked from the start; a version loaded later (a new
    deployment revision, an alias moved since) may flag more. Its load fails when they
    cannot be hashed (no key), so such a version never answers unmasked.
    """
    lock = threading.Lock()

    def guard(model: ServedModel) -> None:
        if not settings.log_predictions:
            return
        wanted = set(_signature_pii(model.signature))
        from conveyor.predictions import pii_policy

        with lock:
            current = ws.predictions.privacy
            masked = set() if current is None else set(current.columns)
            if wanted <= masked:
                return
            ws.predictions.privacy = pii_policy(ws.settings, signature_columns=masked | wanted)

    return guard


def build_app(
    ws: Any,
    ref: str,
    *,
    settings: ServingSettings | None = None,
    prefer_onnx: bool = True,
    close_workspace: bool = False,
    settle: bool = False,
) -> FastAPI:
    """The prediction server for ``ref`` in workspace ``ws`` (model loaded at startup).

    Args:
        ws: An open workspace.
        ref: The model to serve (``churn@champion``).
        settings: Limits and policies (defaults when omitted).
        prefer_onnx: Serve the ONNX twin when the version has one that passed parity.
        close_workspace: Close ``ws`` at shutdown (the app owns it).
        settle: Leave what is alive after each model load out of garbage collection until
            shutdown (:func:`~conveyor.serving._heap.settle_heap`; for a process that is
            this server).

    Example:
        >>> app = build_app(ws, "churn@champion")  # doctest: +SKIP
    """
    settings = settings if settings is not None else ServingSettings()
    reap_stale_folders()
    loaded: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
    load = model_loader(
        ws,
        ref,
        prefer_onnx=prefer_onnx,
        explain=settings.prepare_explainers,
        loaded=loaded,
        on_load=_on_load(ws, settings, settle),
    )
    return create_app(
        ModelHost(),
        logger=_logger(ws, settings, [ref]),
        settings=settings,
        predictions=ws.predictions,
        load=load,
        on_close=[
            lambda: close_all(loaded.values()),
            *([ws.close] if close_workspace else []),
            *([release_heap] if settle else []),
        ],
        access=_access(ws),
        usage=_usage_meter(ws, settings),
    )


def build_env_app(
    ws: Any,
    environment: str,
    *,
    settings: ServingSettings | None = None,
    prefer_onnx: bool = True,
    close_workspace: bool = False,
    interval_s: float = 1.0,
    switch: SwitchBoard | None = None,
    settle: bool = False,
) -> FastAPI:
    """The prediction server of an environment: it serves whatever its deployment says.

    A :class:`DeploymentFollower` polls ``ws.deployments.current(environment)`` every
    ``interval_s``, loads new versions in the background and swaps them in atomically; the
    :class:`DeploymentRouter` splits traffic by the variants' weights (sticky by the
    environment's ``sticky_key``) and sends copies to a shadow variant. Every logged
    prediction and metric carries the environment, variant role and revision; ``/metrics``
    also shows the served revision and weights, and the gauges of the latest monitoring
    report of the environment.

    Args:
        ws: An open workspace.
        environment: An environment of the configuration (``environments:``).
        settings: Limits and policies (``environment`` is set to ``environment``).
        prefer_onnx: Serve ONNX twins when they passed parity.
        close_workspace: Close ``ws`` at shutdown (the app owns it).
        interval_s: Time between polls of the deployment.
        switch: Agrees with the server's other worker processes on when a new revision
            takes over (``serve`` passes one with ``workers > 1``).
        settle: Leave what is alive after each model load out of garbage collection until
            shutdown (for a process that is this server).

    Raises:
        ServingConfigError: ``environment`` is not in the configuration.

    Example:
        >>> app = build_env_app(ws, "production")  # doctest: +SKIP
    """
    configured = ws.settings.config.environments
    if environment not in configured:
        raise ServingConfigError(
            f"Environment {environment!r} is not in the configuration; configured: "
            f"{', '.join(sorted(configured)) or 'none'}.",
            hint="Declare it under `environments:` in conveyor.yaml.",
            environment=environment,
        )
    settings = dataclasses.replace(
        settings if settings is not None else ServingSettings(), environment=environment
    )
    deployments = ws.deployments
    host = ModelHost(DeploymentRouter(sticky_key=configured[environment].sticky_key))
    reap_stale_folders()
    loaded: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
    guard = _on_load(ws, settings, settle)

    def load(name: str, version: int) -> ServedModel:
        ref = f"{name}@{version}"
        explain = settings.prepare_explainers
        return model_loader(
            ws, ref, prefer_onnx=prefer_onnx, explain=explain, loaded=loaded, on_load=guard
        )()

    follower = DeploymentFollower(
        host,
        environment,
        lambda: deployments.current(environment),
        load,
        history=lambda: deployments.history(environment),
        interval_s=interval_s,
        switch=switch,
    )
    current = deployments.current(environment)
    served = [] if current is None else [variant.ref for variant in current.variants]
    app = create_app(
        host,
        logger=_logger(ws, settings, served),
        settings=settings,
        predictions=ws.predictions,
        on_start=[follower.start],
        on_close=[
            follower.stop,
            lambda: close_all(loaded.values()),
            *([ws.close] if close_workspace else []),
            *([release_heap] if settle else []),
        ],
        access=_access(ws),
        usage=_usage_meter(ws, settings),
    )
    server = app.state.server
    follower.metrics = server.metrics
    server.metrics.add_collector(DeploymentCollector(follower))
    report = _latest_report(ws, environment)
    if report is not None:
        server.metrics.add_collector(ReportCollector(report))
    app.state.follower = follower
    return app


def _access(ws: Any) -> ServingAccess:
    """Who may call: tokens from the workspace's records, or, in a remote workspace, as
    the team server answers for them (no token records are read there)."""
    config = ws.settings.config.serving
    if config.auth == "token" and ws.is_remote:
        return ServingAccess(
            RemoteTokens(ws.server_url),
            tuple(config.allowed_hosts),
            config.open_health,
            config.open_metrics,
        )
    return ServingAccess.from_config(config, _token_records(ws))


def _token_records(ws: Any) -> BaseTokenRecords:
    """The workspace's token records (its own instance, SQL or remote)."""
    records: BaseTokenRecords = ws.records(BaseTokenRecords, SqlTokenRecords)
    return records


def _latest_report(ws: Any, environment: str) -> Callable[[], Any] | None:
    try:
        from conveyor.monitoring import latest_report
    except ImportError:  # monitoring is optional for serving
        return None
    return lambda: latest_report(ws, environment)


def settings_to_env(settings: ServingSettings) -> str:
    """``settings`` as the JSON carried to worker processes."""
    return json.dumps(dataclasses.asdict(settings))


def configure_logging() -> None:
    """Show conveyor's INFO lines (rollout transitions, quarantined records) on stderr.

    Called by the server's entry points only; a logger the application configured already
    (one with handlers) is left as it is.
    """
    logger = logging.getLogger("conveyor")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())  # no credential from a URL or config reaches the log
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def app_from_environment() -> FastAPI:
    """The uvicorn factory of worker processes (reads ``CONVEYOR_SERVE_*``)."""
    from conveyor.workspace import Workspace

    configure_logging()
    settings = ServingSettings(**json.loads(process_env().get(ENV_SETTINGS, "{}")))
    ws = Workspace.open(process_env().get(ENV_ROOT, "."))
    try:
        environment = process_env().get(ENV_ENVIRONMENT)
        onnx = process_env().get(ENV_ONNX, "1") != "0"
        if environment:
            folder = process_env().get(ENV_SWITCH)
            workers = int(process_env().get(ENV_WORKERS) or "1")
            switch = SwitchBoard(Path(folder), workers) if folder and workers > 1 else None
            return build_env_app(
                ws,
                environment,
                settings=settings,
                prefer_onnx=onnx,
                close_workspace=True,
                switch=switch,
                settle=True,
            )
        return build_app(
            ws,
            process_env()[ENV_MODEL],
            settings=settings,
            prefer_onnx=onnx,
            close_workspace=True,
            settle=True,
        )
    except BaseException:
        ws.close()
        raise


def check_port(host: str, port: int) -> None:
    """Refuse to start on a port another process listens on, before anything is printed.

    Raises:
        PortInUseError: The port is taken (``conveyor serve`` exits 6).
        ServingConfigError: The host cannot be listened on at all.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ServingConfigError(
            f"Cannot listen on host {host!r}: {exc}.",
            hint="Pass an address of this machine with --host (127.0.0.1, 0.0.0.0).",
            host=host,
        ) from exc
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"Port {port} on {host} is already in use by another process.",
                    hint=f"Stop that process, or pass another port: --port {port + 1}.",
                    host=host,
                    port=port,
                ) from exc
            raise ServingConfigError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                hint="Pass another --host or --port (ports below 1024 need privileges).",
                host=host,
                port=port,
            ) from exc


def serve(
    root: Path,
    ref: str | None = None,
    *,
    environment: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    settings: ServingSettings | None = None,
    prefer_onnx: bool = True,
) -> None:
    """Run the server until SIGINT/SIGTERM (uvicorn drains requests in flight first).

    Args:
        root: The project folder.
        ref: The model to serve (``None`` with ``environment``).
        environment: Serve this environment's deployment instead of one model.
        host: The interface to listen on.
        port: The port.
        workers: Worker processes (each opens the workspace and loads the models).
        settings: Limits and policies.
        prefer_onnx: Serve ONNX twins that passed parity (``--no-onnx``: the native model).

    Raises:
        PortInUseError: ``port`` is taken.
    """
    import uvicorn

    if (ref is None) == (environment is None):
        raise ServingConfigError(
            "Serve either one model or one environment "
            f"(got ref={ref!r}, environment={environment!r}).",
            hint="Pass exactly one of ref='churn@champion' or environment='production'.",
        )
    settings = settings if settings is not None else ServingSettings()
    check_port(host, port)
    # uvicorn's workers import the app by name: they are handed what to serve this way.
    # With several workers following an environment, they switch revisions together
    # through a folder of this server's own (removed when it stops).
    switch = tempfile.mkdtemp(prefix="conveyor-switch-") if environment and workers > 1 else ""
    # uvicorn's workers import the app by name: they are handed what to serve this way.
    set_process_env(
        {
            ENV_ROOT: str(root),
            ENV_MODEL: ref or "",
            ENV_ENVIRONMENT: environment or "",
            ENV_SETTINGS: settings_to_env(settings),
            ENV_ONNX: "1" if prefer_onnx else "0",
            ENV_SWITCH: switch,
            ENV_WORKERS: str(workers),
        }
    )
    try:
        uvicorn.run(
            "conveyor.serving._launch:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=30,
        )
    finally:
        if switch:
            shutil.rmtree(switch, ignore_errors=True)
