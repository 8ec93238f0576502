"""The control plane application: ``conveyor server``'s FastAPI app over a workspace."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from conveyor.api._artifacts import add_artifact_routes
from conveyor.api._errors import (
    BUILTIN_ERRORS,
    builtin_error,
    conveyor_error,
    http_error,
    unexpected_error,
    validation_error,
)
from conveyor.api._policies import API_POLICIES
from conveyor.api._records_routes import add_records_routes
from conveyor.api._resources import add_resource_routes
from conveyor.errors import ConveyorError
from conveyor.remote import API_PREFIX
from conveyor.security import Sessions, SqlTokenRecords, Tokens
from conveyor.serving import AccessGuard
from conveyor.serving._auth import ASGIApp, Message, Receive, Scope, Send
from conveyor.serving._wire import json_response
from conveyor.ui import add_ui
from conveyor.workspace import Workspace

#: Routes whose bodies stream (uploads) and are not bounded by ``server.max_request_mb``.
STREAMING_PREFIXES = (f"{API_PREFIX}/artifacts/",)


def create_app(ws: Workspace, *, tokens: Tokens | None = None) -> FastAPI:
    """The control plane over the stores of ``ws`` (a local workspace), with the web UI.

    Every API route needs a token (``Authorization: Bearer``) but ``/api/v1/health``; each
    route's policy is in :data:`~conveyor.api.API_POLICIES` and a route missing there is
    refused; the ``Host`` header must be one of ``server.allowed_hosts``. No CORS headers
    are sent. The web UI's pages (:mod:`conveyor.ui`) are served at ``/`` behind sign-in
    with a token (a session cookie; policy ``"page"``: the UI checks the session, its
    CSRF tokens and the same roles).

    Args:
        ws: The workspace whose stores the server serves.
        tokens: Verifies tokens (default: the workspace's token records).
    """
    settings = ws.settings.config.server
    app = FastAPI(
        title="conveyor control plane",
        version="1",
        description="Records, artifacts, deployments and audit of a conveyor project.",
    )
    app.state.workspace = ws
    app.add_exception_handler(ConveyorError, conveyor_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for builtin in BUILTIN_ERRORS:
        app.add_exception_handler(builtin, builtin_error)
    app.add_exception_handler(Exception, unexpected_error)

    @app.get(f"{API_PREFIX}/health", tags=["server"], summary="Liveness and database reachability.")
    def health() -> Response:
        try:
            ws.store.ping()
        except ConveyorError as exc:
            return json_response(
                {
                    "status": "unavailable",
                    "error": "The metadata database cannot be reached.",
                    "code": exc.code,
                },
                503,
                {"retry-after": "2"},
            )
        return json_response({"status": "ok"})

    @app.get(
        f"{API_PREFIX}/whoami", tags=["server"], summary="The token's name, role and environments."
    )
    def whoami(request: Request) -> Response:
        token = request.state.token
        return json_response(
            {"name": token.name, "role": str(token.role), "environments": list(token.environments)}
        )

    add_records_routes(app, ws)
    for add_routes in ROUTE_GROUPS:
        add_routes(app, ws)
    verifier = tokens or Tokens(SqlTokenRecords(ws.store))
    page_policies = add_ui(app, ws, Sessions(verifier))
    #: What the guard enforces: the API's table and the UI's pages (``"page"``).
    app.state.policies = {**API_POLICIES, **page_policies}

    app.add_middleware(BodyLimit, limit=int(settings.max_request_mb * 1024 * 1024))
    app.add_middleware(
        AccessGuard,
        routes=lambda: app.router.routes,
        tokens=verifier,
        allowed_hosts=settings.allowed_hosts,
        open_health=True,
        open_metrics=False,
        policies=app.state.policies,
    )
    return app


#: The route groups beside the records routes (artifacts, resources, actions): each
#: adds its routes to the application with full paths (an included ``APIRouter`` would
#: hide them from the access guard's route walk).
ROUTE_GROUPS: tuple[Callable[[FastAPI, Workspace], None], ...] = (
    add_artifact_routes,
    add_resource_routes,
)


class BodyLimit:
    """Refuse (413) a request body larger than ``limit`` bytes, but on streaming routes."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(STREAMING_PREFIXES):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:  # read outside a route's body parsing
            await _too_large(self.limit)(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised while the app reads the body: FastAPI passes an ``HTTPException`` through
    (any other exception it turns into a 400), and :func:`http_error` answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than this server takes ({limit} bytes).")


def _too_large(limit: int) -> Response:
    return json_response(
        {
            "error": f"The request body is larger than this server takes ({limit} bytes).",
            "code": "payload_too_large",
            "hint": "Send smaller batches, or raise server.max_request_mb in conveyor.yaml.",
        },
        413,
    )
