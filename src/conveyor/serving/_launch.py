"""Serving a registered model from a workspace: what ``conveyor serve`` runs.

One process or many: with ``workers > 1`` uvicorn starts worker processes that each call
:func:`app_from_environment`, which opens the workspace and loads the model itself (the
model reference and settings travel in ``CONVEYOR_SERVE_*`` variables). Each app loads its
model in the background (readiness is false until then), logs predictions through a
:class:`~conveyor.predictions.PredictionLogger` whose spill folder is shared by all workers
(spill files are claimed atomically), and flushes the logger then closes the workspace on
shutdown.
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
from conveyor.serving._host import ModelHost
from conveyor.serving._model import ServedModel
from conveyor.serving._settings import ServingSettings

ENV_ROOT = "CONVEYOR_SERVE_ROOT"
ENV_MODEL = "CONVEYOR_SERVE_MODEL"
ENV_SETTINGS = "CONVEYOR_SERVE_SETTINGS"
SPILL_FOLDER = Path(".conveyor") / "spill" / "predictions"


def registry_of(ws: Any) -> Any:
    """The workspace's model registry (``ws.models``, or one built on its stores)."""
    registry = getattr(ws, "models", None)
    if registry is not None:
        return registry
    from conveyor.registry import ModelRegistry

    return ModelRegistry(ws.store, ws.artifacts, actor=ws.actor, root=ws.root)


def _prediction_log(ws: Any) -> Any:
    log = getattr(ws, "predictions", None)
    if log is not None:
        return log
    from conveyor.predictions import PredictionLog

    return PredictionLog(ws.store, ws.artifacts, actor=ws.actor, root=ws.root)


def model_loader(ws: Any, ref: str, *, prefer_onnx: bool = True) -> Callable[[], ServedModel]:
    """A loader of ``ref`` from the workspace's registry (hash-verified by the registry).

    Args:
        ws: An open workspace.
        ref: ``name``, ``name@version`` or ``name@alias``.
        prefer_onnx: Serve the ONNX twin when the version has one that passed parity.
    """
    registry = registry_of(ws)

    def load() -> ServedModel:
        return ServedModel.from_loaded(registry.load(ref, prefer_onnx=prefer_onnx))

    return load


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
    logger = None
    if settings.log_predictions:
        from conveyor.predictions import PredictionLogger

        logger = PredictionLogger(_prediction_log(ws), spill_dir=Path(ws.root) / SPILL_FOLDER)
        logger.recover_spill()
    return create_app(
        ModelHost(),
        logger=logger,
        settings=settings,
        predictions=_prediction_log(ws),
        load=model_loader(ws, ref, prefer_onnx=prefer_onnx),
        on_close=[ws.close] if close_workspace else [],
    )


def settings_to_env(settings: ServingSettings) -> str:
    """``settings`` as the JSON carried to worker processes."""
    return json.dumps(dataclasses.asdict(settings))


def app_from_environment() -> FastAPI:
    """The uvicorn factory of worker processes (reads ``CONVEYOR_SERVE_*``)."""
    from conveyor.workspace import Workspace

    settings = ServingSettings(**json.loads(os.environ.get(ENV_SETTINGS, "{}")))
    ws = Workspace.open(os.environ.get(ENV_ROOT, "."))
    try:
        return build_app(ws, os.environ[ENV_MODEL], settings=settings, close_workspace=True)
    except BaseException:
        ws.close()
        raise


def serve(
    root: Path,
    ref: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    settings: ServingSettings | None = None,
) -> None:
    """Run the server until SIGINT/SIGTERM (uvicorn drains requests in flight first).

    Args:
        root: The project folder.
        ref: The model to serve.
        host: The interface to listen on.
        port: The port.
        workers: Worker processes (each opens the workspace and loads the model).
        settings: Limits and policies.
    """
    import uvicorn

    settings = settings if settings is not None else ServingSettings()
    os.environ[ENV_ROOT] = str(root)
    os.environ[ENV_MODEL] = ref
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
