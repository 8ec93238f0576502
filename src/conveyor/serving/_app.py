"""The FastAPI application: one route table for conveyor's API, MLflow's and KServe v2's.

Handlers take the raw request and return a ready response, so a prediction costs one body
read, one orjson parse, column checks, one model call and one orjson dump; no pydantic
models sit on the hot path. Every answer is counted in ``/metrics`` by model, version,
variant, revision, route and status; every prediction is queued for the prediction log after
the response body is built (queueing never blocks and never fails a request).

When the routed variant raises on a request (a challenger failing on some inputs), that
request is answered 500 ``prediction_failed`` naming the version, and logged with status
``error``, its variant and revision, so the canary analysis counts it against that variant;
it is not retried on another variant (which would hide the failure from the analysis and
double the latency). Refused input (4xx) is not logged. After a live answer, a copy goes to
the shadow variant, if the deployment has one, off the response path.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from conveyor.serving._auth import ServingAccess, install_access
from conveyor.serving._errors import PredictionFailedError, RequestError
from conveyor.serving._host import ModelHost, RouteRequest
from conveyor.serving._inputs import Rows, as_mapping
from conveyor.serving._metrics import ServerMetrics
from conveyor.serving._model import ServedModel
from conveyor.serving._payloads import mlflow_rows, v1_rows, wants_proba
from conveyor.serving._predict import Predictor
from conveyor.serving._routing import DeploymentRouter
from conveyor.serving._settings import ServingSettings
from conveyor.serving._shadow import ShadowRunner
from conveyor.serving._wire import (
    REQUEST_ID,
    arrow_response,
    check_content_type,
    error_response,
    json_response,
    parse_json,
    parse_table,
    read_body,
    wants_arrow,
)

#: The response header naming the version that answered (``churn@3``).
MODEL_VERSION_HEADER = "x-conveyor-model-version"
RowParser = Callable[[ServedModel, Mapping[str, Any], ServingSettings], Rows]


class Server:
    """State shared by the handlers of one application."""

    def __init__(
        self,
        host: ModelHost,
        logger: Any | None,
        settings: ServingSettings,
        predictions: Any | None,
    ) -> None:
        self.host = host
        self.logger = logger
        self.settings = settings
        self.predictions = predictions
        self.metrics = ServerMetrics(logger.stats if logger is not None else None)
        self.engine = Predictor(settings, self.metrics, logger)
        self.shadows = ShadowRunner(settings, self.engine, on_outcome=self._count_shadow)
        # One SHAP explainer per served model, built on the first /v1/explain request.
        self.explainers: weakref.WeakKeyDictionary[ServedModel, Any] = weakref.WeakKeyDictionary()
        # The OIP datatype of each served model's prediction, found on the first metadata call.
        self.datatypes: weakref.WeakKeyDictionary[ServedModel, str] = weakref.WeakKeyDictionary()

    def request_id(self, request: Request) -> str:
        """The caller's ``X-Request-Id`` when well-formed, else a new one."""
        given = request.headers.get("x-request-id")
        if given is not None and REQUEST_ID.fullmatch(given):
            return given
        return uuid.uuid4().hex

    async def payload(self, request: Request) -> Any:
        """The parsed JSON body (content type, size and JSON rules applied)."""
        check_content_type(request)
        body = await read_body(request, self.settings.max_body_bytes, self.settings.body_timeout_s)
        return parse_json(body, self.settings)

    async def predict_payload(
        self, request: Request, parse: RowParser
    ) -> tuple[Any, RowParser, Any]:
        """The body of a prediction route, the parser for it, and what the router reads.

        A JSON body is returned as sent (with ``parse``); an Arrow IPC stream or Parquet
        file as ``{"columns": {...}}`` (read as ``/v1/predict`` reads columns), with its
        first row as plain values for routing by an input column.
        """
        fmt = check_content_type(request, tables=True)
        body = await read_body(request, self.settings.max_body_bytes, self.settings.body_timeout_s)
        if fmt == "json":
            payload = parse_json(body, self.settings)
            return payload, parse, payload
        columns = parse_table(body, fmt, self.settings)
        first = {name: _plain(values[0]) for name, values in columns.items()}
        return {"columns": columns}, v1_rows, {"rows": [first]}

    def observe(self, model: ServedModel | None, route: str, status: int, started: float) -> None:
        """Count one answer in ``/metrics``."""
        seconds = time.perf_counter() - started
        if model is None:
            self.metrics.request("", "", "", "", route, status, seconds)
        else:
            self.metrics.request(
                model.name,
                str(model.version),
                model.variant,
                model.revision,
                route,
                status,
                seconds,
            )

    async def predict_route(
        self,
        request: Request,
        route: str,
        parse: RowParser,
        respond: Callable[[ServedModel, list[Any], str], dict[str, Any]],
        *,
        name: str | None = None,
        version: int | None = None,
        outputs: bool = False,
    ) -> Response:
        """The shared prediction flow of ``/v1/predict`` and ``/invocations``.

        With ``outputs``, the body's ``"outputs": ["proba"]`` adds ``probabilities`` (and
        ``classes``, when known) to the answer. Both routes also take an Arrow IPC stream or a
        Parquet file (one column per input) and answer it in JSON like any other body, or,
        with ``Accept: application/vnd.apache.arrow.stream``, as an Arrow IPC stream
        (``prediction``, and ``probabilities`` when asked for).
        """
        started = time.perf_counter()
        rid = self.request_id(request)
        headers = {"x-request-id": rid}
        model: ServedModel | None = None
        rows: Rows | None = None
        try:
            body, parse, view = await self.predict_payload(request, parse)
            payload = as_mapping(body)
            model = self.host.route(RouteRequest(name, version, rid, request.headers, view))
            proba = outputs and wants_proba(model, payload)
            rows = await self.rows(model, payload, parse)
            values = await self.engine.run(model, rows)
            body = respond(model, values, rid)
            if proba:
                body["probabilities"] = await self.engine.proba(model, rows)
                if model.classes is not None:
                    body["classes"] = list(model.classes)
            headers[MODEL_VERSION_HEADER] = f"{model.name}@{model.version}"
            if wants_arrow(request):
                response = arrow_response(_arrow_columns(body), headers)
            else:
                response = json_response(body, 200, headers)
        except RequestError as exc:
            self.failed(model, rid, rows, exc, started)
            self.observe(model, route, exc.status, started)
            return error_response(exc, headers)
        latency_ms = (time.perf_counter() - started) * 1000.0
        self.engine.log(model, rid, rows, values, latency_ms)
        self.observe(model, route, 200, started)
        if version is None:
            self.shadow(model, payload, parse, rid)
        return response

    async def rows(self, model: ServedModel, payload: Mapping[str, Any], parse: RowParser) -> Rows:
        """``payload`` as ``model``'s validated rows; for a model served with a feature
        service, the request's entity keys and request-time features assembled with the
        features looked up in the online store (in a worker thread: the lookup blocks)."""
        if model.features is None:
            return parse(model, payload, self.settings)
        return await anyio.to_thread.run_sync(self.assembled(parse), model, payload, self.settings)

    def assembled(self, parse: RowParser) -> RowParser:
        """``parse``, assembling the rows of a model served with a feature service
        (blocking: for worker threads)."""

        def run(model: ServedModel, payload: Mapping[str, Any], settings: ServingSettings) -> Rows:
            if model.features is None:
                return parse(model, payload, settings)
            return model.features.rows(model, payload, parse, settings, self._count_lookup)

        return run

    def _count_lookup(self, model: ServedModel, seconds: float, reason: str | None) -> None:
        self.metrics.feature_lookup(model.name, str(model.version), seconds, reason)

    def failed(
        self,
        model: ServedModel | None,
        rid: str,
        rows: Rows | None,
        exc: RequestError,
        started: float,
    ) -> None:
        """Log a request the model failed on (status ``error``, with variant and revision).

        Refused input (4xx) is the caller's mistake and is not logged; a model raising on
        valid input is, so error rates per variant can be read from the prediction log.
        """
        if model is None or rows is None or not isinstance(exc, PredictionFailedError):
            return
        latency_ms = (time.perf_counter() - started) * 1000.0
        self.engine.log(model, rid, rows, None, latency_ms, error=exc.message)

    def shadow(
        self, live: ServedModel, payload: Mapping[str, Any], parse: RowParser, rid: str
    ) -> None:
        """Send a copy of an answered request to the deployment's shadow variant, if any."""
        if not live.variant:
            return
        found = DeploymentRouter.shadow(self.host.state)
        if found is not None:
            model, timeout_s = found
            # The copy runs on a shadow thread: the shadow's own features are looked up there.
            self.shadows.submit(model, payload, self.assembled(parse), rid, timeout_s)

    def _count_shadow(self, model: ServedModel, outcome: str) -> None:
        self.metrics.shadow(model.name, str(model.version), model.revision, outcome)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A failure no handler expected: still one JSON answer, never a stack trace or a
    dropped connection (the exception itself is logged by the server)."""
    return json_response(
        {
            "error": f"The server failed on this request ({type(exc).__name__}).",
            "code": "internal_error",
            "hint": "Retry; if it persists, report it with the server log.",
        },
        500,
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a JSON body would hold."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def _arrow_columns(body: dict[str, Any]) -> dict[str, list[Any]]:
    """The per-row parts of an answer, for an Arrow IPC answer (model, version and request
    id are in the response headers)."""
    columns = {"prediction": body["predictions"]}
    if "probabilities" in body:
        columns["probabilities"] = body["probabilities"]
    return columns


def _v1_body(model: ServedModel, values: list[Any], rid: str) -> dict[str, Any]:
    return {"predictions": values, "model": model.name, "version": model.version, "request_id": rid}


def _mlflow_body(model: ServedModel, values: list[Any], rid: str) -> dict[str, Any]:
    return {"predictions": values}


def create_app(
    host: ModelHost,
    *,
    logger: Any | None = None,
    settings: ServingSettings | None = None,
    predictions: Any | None = None,
    load: Callable[[], ServedModel] | None = None,
    on_start: Sequence[Callable[[], None]] = (),
    on_close: Sequence[Callable[[], None]] = (),
    access: ServingAccess | None = None,
    usage: Any | None = None,
) -> FastAPI:
    """Build the prediction server's application.

    Args:
        host: The loaded models and the router picking one per request.
        logger: A ``PredictionLogger`` (``submit``, ``stats``, ``close``); ``None`` logs nothing.
        settings: Limits and policies; defaults when omitted.
        predictions: The ``PredictionLog`` receiving ``/v1/feedback`` (defaults to the
            logger's log).
        load: Loads the model at startup, in a background thread; readiness stays false
            until it returns.
        on_start: Called in order at startup (for example starting a deployment follower);
            each must return at once and do its work in the background.
        on_close: Called in order at shutdown, after the logger is flushed and closed
            (for example the workspace's ``close``).
        access: Host names and tokens the server checks before any handler
            (:class:`~conveyor.serving._auth.AccessGuard`); ``None`` checks nothing.
        usage: A :class:`~conveyor.predictions.UsageMeter` counting every answered request;
            started at startup and closed (writing its final record) at shutdown.

    Returns:
        The application; on shutdown it flushes and closes ``logger``.

    Example:
        >>> app = create_app(ModelHost())
        >>> any(getattr(r, "path", "") == "/v1/predict" for r in app.routes)
        True
    """
    settings = settings if settings is not None else ServingSettings()
    if predictions is None and logger is not None:
        predictions = getattr(logger, "log", None)
    server = Server(host, logger, settings, predictions)
    server.engine.usage = usage

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load is not None:
            host.load_in_background(load)
        for start in on_start:
            start()
        if usage is not None:
            usage.start()
        try:
            yield
        finally:
            if usage is not None:
                await anyio.to_thread.run_sync(usage.close)
            if logger is not None:
                await anyio.to_thread.run_sync(logger.close)
            for close in on_close:
                await anyio.to_thread.run_sync(close)

    app = FastAPI(title="conveyor prediction server", lifespan=lifespan, docs_url="/docs")
    app.state.server = server
    app.add_exception_handler(Exception, _internal_error)

    async def predict(request: Request) -> Response:
        return await server.predict_route(request, "/v1/predict", v1_rows, _v1_body, outputs=True)

    async def invocations(request: Request) -> Response:
        return await server.predict_route(request, "/invocations", mlflow_rows, _mlflow_body)

    async def feedback(request: Request) -> Response:
        from conveyor.serving._feedback import handle_feedback

        return await handle_feedback(server, request)

    async def explain(request: Request) -> Response:
        from conveyor.serving._explain import handle_explain

        return await handle_explain(server, request)

    async def metrics(request: Request) -> Response:
        body = generate_latest(server.metrics.registry)
        return Response(body, 200, media_type=CONTENT_TYPE_LATEST)

    async def ping(request: Request) -> Response:
        ready = host.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    for path, endpoint in (
        ("/v1/predict", predict),
        ("/invocations", invocations),
        ("/v1/feedback", feedback),
        ("/v1/explain", explain),
    ):
        app.router.add_route(path, endpoint, methods=["POST"])
    app.router.add_route("/metrics", metrics, methods=["GET"])
    for path in ("/ping", "/health"):
        app.router.add_route(path, ping, methods=["GET"])

    from conveyor.serving._v2 import add_v2_routes

    add_v2_routes(app, server)
    if access is not None:
        install_access(app, access, settings.environment)
    return app
