"""Serving from a workspace: what ``conveyor serve --model`` and ``--env`` run.

``--model`` serves one registered version (:func:`build_app`); ``--env`` serves an
environment's deployment and follows its revisions (:func:`build_env_app`). One process or
many: with ``workers > 1`` uvicorn starts worker processes that each call
:func:`app_from_environment`, which opens the workspace and loads the models itself (the
model reference or environment and the settings travel in ``CONVEYOR_SERVE_*`` variables).
Each app loads its models in the background (readiness is false until then), logs
predictions through a :class:`~conveyor.predictions.PredictionLogger` whose spill folder is
shared by all workers (spill files are claimed atomically), and flushes the logger then
closes the workspace on shutdown.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from conveyor.serving._app import create_app
from conveyor.serving._errors import ServingConfigError
from conveyor.serving._explain import ExplainerSlot, explainer_for
from conveyor.serving._follow import DeploymentCollector, DeploymentFollower, ReportCollector
from conveyor.serving._host import ModelHost
from conveyor.serving._model import ServedModel
from conveyor.serving._routing import DeploymentRouter
from conveyor.serving._settings import ServingSettings

ENV_ROOT = "CONVEYOR_SERVE_ROOT"
ENV_MODEL = "CONVEYOR_SERVE_MODEL"
ENV_SETTINGS = "CONVEYOR_SERVE_SETTINGS"
ENV_ENVIRONMENT = "CONVEYOR_SERVE_ENV"
SPILL_FOLDER = Path(".conveyor") / "spill" / "predictions"


def model_loader(
    ws: Any, ref: str, *, prefer_onnx: bool = True, explain: bool = True
) -> Callable[[], ServedModel]:
    """A loader of ``ref`` from the workspace's registry (hash-verified by the registry).

    Args:
        ws: An open workspace.
        ref: ``name``, ``name@version`` or ``name@alias``.
        prefer_onnx: Serve the ONNX twin when the version has one that passed parity.
        explain: Prepare the version's explainer as part of loading it, before it is ready
            (on the native model, also when the ONNX twin serves).
    """
    registry = ws.models

    def load() -> ServedModel:
        loaded = registry.load(ref, prefer_onnx=prefer_onnx)
        model = ServedModel.from_loaded(loaded)
        if explain and _has_example(model):
            pinned = f"{model.name}@{model.version}"

            def build() -> Any:
                native = registry.load(pinned, prefer_onnx=False) if loaded.uses_onnx else loaded
                explainer = explainer_for(native.predictor, model)
                explainer.source = native  # the native model's files live as long as it
                return explainer

            object.__setattr__(model, "explainer", ExplainerSlot.prepare(build))
        return model

    return load


def _has_example(model: ServedModel) -> bool:
    example = model.example
    return isinstance(example, dict) and "columns" in example and "data" in example


def _logger(ws: Any, settings: ServingSettings) -> Any:
    if not settings.log_predictions:
        return None
    from conveyor.predictions import PredictionLogger

    logger = PredictionLogger(ws.predictions, spill_dir=Path(ws.root) / SPILL_FOLDER)
    logger.recover_spill()
    return logger


def build_app(
    ws: Any,
    ref: str,
    *,
    settings: ServingSettings | None = None,
    prefer_onnx: bool = True,
    close_workspace: bool = False,
) -> FastAPI:
    """The prediction server for ``ref`` in workspace ``ws`` (model loaded at startup).

    Args:
        ws: An open workspace.
        ref: The model to serve (``churn@champion``).
        settings: Limits and policies (defaults when omitted).
        prefer_onnx: Serve the ONNX twin when the version has one that passed parity.
        close_workspace: Close ``ws`` at shutdown (the app owns it).

    Example:
        >>> app = build_app(ws, "churn@champion")  # doctest: +SKIP
    """
    settings = settings if settings is not None else ServingSettings()
    return create_app(
        ModelHost(),
        logger=_logger(ws, settings),
        settings=settings,
        predictions=ws.predictions,
        load=model_loader(ws, ref, prefer_onnx=prefer_onnx, explain=settings.prepare_explainers),
        on_close=[ws.close] if close_workspace else [],
    )


def build_env_app(
    ws: Any,
    environment: str,
    *,
    settings: ServingSettings | None = None,
    prefer_onnx: bool = True,
    close_workspace: bool = False,
    interval_s: float = 1.0,
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

    def load(name: str, version: int) -> ServedModel:
        ref = f"{name}@{version}"
        return model_loader(ws, ref, prefer_onnx=prefer_onnx, explain=settings.prepare_explainers)()

    follower = DeploymentFollower(
        host, environment, lambda: deployments.current(environment), load, interval_s=interval_s
    )
    app = create_app(
        host,
        logger=_logger(ws, settings),
        settings=settings,
        predictions=ws.predictions,
        on_start=[follower.start],
        on_close=[follower.stop, *([ws.close] if close_workspace else [])],
    )
    server = app.state.server
    follower.metrics = server.metrics
    server.metrics.add_collector(DeploymentCollector(follower))
    report = _latest_report(ws, environment)
    if report is not None:
        server.metrics.add_collector(ReportCollector(report))
    app.state.follower = follower
    return app


def _latest_report(ws: Any, environment: str) -> Callable[[], Any] | None:
    try:
        from conveyor.monitoring import latest_report
    except ImportError:  # monitoring is optional for serving
        return None
    return lambda: latest_report(ws, environment)


def settings_to_env(settings: ServingSettings) -> str:
    """``settings`` as the JSON carried to worker processes."""
    return json.dumps(dataclasses.asdict(settings))


def app_from_environment() -> FastAPI:
    """The uvicorn factory of worker processes (reads ``CONVEYOR_SERVE_*``)."""
    from conveyor.workspace import Workspace

    settings = ServingSettings(**json.loads(os.environ.get(ENV_SETTINGS, "{}")))
    ws = Workspace.open(os.environ.get(ENV_ROOT, "."))
    try:
        environment = os.environ.get(ENV_ENVIRONMENT)
        if environment:
            return build_env_app(ws, environment, settings=settings, close_workspace=True)
        return build_app(ws, os.environ[ENV_MODEL], settings=settings, close_workspace=True)
    except BaseException:
        ws.close()
        raise


def serve(
    root: Path,
    ref: str | None = None,
    *,
    environment: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    settings: ServingSettings | None = None,
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
    """
    import uvicorn

    if (ref is None) == (environment is None):
        raise ServingConfigError(
            "Serve either one model or one environment "
            f"(got ref={ref!r}, environment={environment!r}).",
            hint="Pass exactly one of ref='churn@champion' or environment='production'.",
        )
    settings = settings if settings is not None else ServingSettings()
    os.environ[ENV_ROOT] = str(root)
    os.environ[ENV_MODEL] = ref or ""
    os.environ[ENV_ENVIRONMENT] = environment or ""
    os.environ[ENV_SETTINGS] = settings_to_env(settings)
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
