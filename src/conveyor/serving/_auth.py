"""Who may call the prediction server: host names, tokens and one policy per route.

:class:`AccessGuard` is plain ASGI middleware in front of the whole application. It
answers before any handler runs, so a refused request never touches a model, a body or
the store, and the answer never says whether a model exists:

1. the ``Host`` header must be one of ``serving.allowed_hosts`` (else 400
   ``invalid_host``), in both auth modes: a web page on another origin cannot reach a
   server on loopback through DNS rebinding;
2. the route's policy (:data:`ROUTE_POLICIES`) decides what is needed. With
   ``serving.auth: token`` a prediction route needs a token with ``predict``,
   ``/v1/feedback`` one with ``feedback`` (developer and up, not predictor), health and
   ``/metrics`` are open or need any valid token per ``open_health``/``open_metrics``,
   and everything else (``/docs``, ``/openapi.json``, any path no route matches) needs a
   valid token. A route with no policy is refused (403): the default is deny;
3. the token comes from ``Authorization: Bearer <token>``; a bad one gets 401
   ``invalid_token`` (one message for missing, malformed, unknown, expired and
   revoked), a good one without the permission or the environment 403
   ``access_denied``, a client with too many failures 429 ``too_many_attempts``.

No CORS headers are sent: browsers on other origins cannot read answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio.to_thread
from starlette.routing import BaseRoute, Match, Mount

from conveyor.errors import ConveyorError
from conveyor.security import (
    BaseTokenRecords,
    InvalidTokenError,
    Permission,
    SecurityError,
    TokenInfo,
    Tokens,
    TooManyAttemptsError,
    authorize,
)
from conveyor.serving._wire import json_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: ``health``/``metrics``: open or any valid token, per configuration; ``token``: any
#: valid token; a permission: a token holding it; ``page``: a web UI page, which checks
#: its own session (cookie) and permissions: the guard checks only the host.
Policy = Literal["health", "metrics", "token", "page"] | Permission

#: The policy of every route of the prediction server, by route path (a mount's path
#: covers everything under it). A route missing here is refused.
ROUTE_POLICIES: Mapping[str, Policy] = {
    "/v1/predict": Permission.PREDICT,
    "/invocations": Permission.PREDICT,
    "/v1/explain": Permission.PREDICT,
    "/v1/feedback": Permission.FEEDBACK,
    "/v2/models/{name}/infer": Permission.PREDICT,
    "/v2/models/{name}/versions/{version}/infer": Permission.PREDICT,
    "/v2/models/{name}": Permission.PREDICT,
    "/v2/models/{name}/versions/{version}": Permission.PREDICT,
    "/v2/models/{name}/ready": Permission.PREDICT,
    "/v2/models/{name}/versions/{version}/ready": Permission.PREDICT,
    "/v2": "health",
    "/v2/health/live": "health",
    "/v2/health/ready": "health",
    "/ping": "health",
    "/health": "health",
    "/metrics": "metrics",
    "/openapi.json": "token",
    "/docs": "token",
    "/docs/oauth2-redirect": "token",
    "/redoc": "token",
}


class TokenVerifier(Protocol):
    """What checks a bearer token: :class:`~conveyor.security.Tokens` over token records,
    or :class:`~conveyor.remote.RemoteTokens` asking a team server."""

    def verify(self, secret: object, *, client: str = "unknown") -> TokenInfo: ...


@dataclass(frozen=True)
class ServingAccess:
    """What :class:`AccessGuard` enforces, read from ``serving:`` in ``conveyor.yaml``.

    Attributes:
        tokens: Verifies bearer tokens; ``None`` is ``serving.auth: none``.
        allowed_hosts: ``Host`` header values answered (without the port).
        open_health: Health routes answer without a token.
        open_metrics: ``/metrics`` answers without a token.
    """

    tokens: TokenVerifier | None
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    open_health: bool = True
    open_metrics: bool = True

    @classmethod
    def from_config(cls, config: Any, records: BaseTokenRecords) -> ServingAccess:
        """From a :class:`~conveyor.config.ServingAuthConfig` and the token records.

        Args:
            config: The ``serving:`` settings.
            records: Where tokens are kept (the workspace's,
                ``ws.records(BaseTokenRecords, SqlTokenRecords)``); read only with
                ``auth: token``.

        Example:
            >>> tokens = ws.records(BaseTokenRecords, SqlTokenRecords)  # doctest: +SKIP
            >>> ServingAccess.from_config(ws.settings.config.serving, tokens)  # doctest: +SKIP
        """
        tokens = Tokens(records) if config.auth == "token" else None
        return cls(tokens, tuple(config.allowed_hosts), config.open_health, config.open_metrics)


def install_access(app: Any, access: ServingAccess, environment: str | None) -> None:
    """Put an :class:`AccessGuard` in front of ``app`` (a FastAPI application)."""
    app.add_middleware(
        AccessGuard,
        routes=lambda: app.router.routes,
        tokens=access.tokens,
        allowed_hosts=access.allowed_hosts,
        open_health=access.open_health,
        open_metrics=access.open_metrics,
        environment=environment,
    )


class AccessGuard:
    """The middleware: host check, then the route's policy, then the app.

    Args:
        app: The application to guard.
        routes: The application's route table (read on each request, so routes added
            after the guard are covered).
        tokens: Verifies bearer tokens; ``None`` is ``serving.auth: none`` (only hosts
            are checked).
        allowed_hosts: ``Host`` header values answered (without the port).
        open_health: Health routes answer without a token.
        open_metrics: ``/metrics`` answers without a token.
        environment: The environment served, checked against a token's scope.
        policies: The policy table (:data:`ROUTE_POLICIES` by default).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Sequence[BaseRoute]],
        tokens: TokenVerifier | None,
        allowed_hosts: Sequence[str],
        open_health: bool = True,
        open_metrics: bool = True,
        environment: str | None = None,
        policies: Mapping[str, Policy] = ROUTE_POLICIES,
    ) -> None:
        self.app = app
        self.routes = routes
        self.tokens = tokens
        self.allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self.open_health = open_health
        self.open_metrics = open_metrics
        self.environment = environment
        self.policies = policies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        refusal = await self._check(scope)
        if refusal is not None:
            if scope["type"] == "websocket":  # no websocket routes: close at once
                await send({"type": "websocket.close", "code": 1008})
                return
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> Any:
        host = _host(scope)
        if host is None or host not in self.allowed_hosts:
            shown = "none" if host is None else repr(host[:64])
            return _refuse(
                400,
                "invalid_host",
                f"This server does not answer for host {shown}.",
                "Call it by one of the names in serving.allowed_hosts of conveyor.yaml.",
            )
        policy = self.policy(scope)
        if policy is None:
            return _refuse(
                403,
                "access_denied",
                "This route has no access policy, so it is refused.",
                "Routes of the prediction server must be listed in its policy table.",
            )
        if policy == "health" and (self.tokens is None or self.open_health):
            return None
        if policy == "metrics" and (self.tokens is None or self.open_metrics):
            return None
        if policy == "page":  # the UI's session layer authenticates (conveyor.ui)
            return None
        if self.tokens is None:
            return None
        try:
            token = await anyio.to_thread.run_sync(self._verify, scope)
            if isinstance(policy, Permission):
                authorize(token, policy, environment=self.environment)
        except SecurityError as exc:
            return _security_refusal(exc)
        except ConveyorError:  # the token store failed: refuse, never let it through
            return _refuse(
                503,
                "auth_unavailable",
                "Tokens cannot be checked right now.",
                "Retry in a few seconds.",
                {"retry-after": "5"},
            )
        scope.setdefault("state", {})["token"] = token
        return None

    def policy(self, scope: Scope) -> Policy | None:
        """The policy of the route ``scope`` reaches; ``"token"`` when none matches.

        A matched route without an entry in the table has no policy (``None``: refused).
        """
        partial: str | None = None
        for route in self.routes():
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return self.policies.get(_path(route))
            if match is Match.PARTIAL and partial is None:
                partial = _path(route)
        if partial is not None:  # a known path, another method: 405 after the check
            return self.policies.get(partial)
        return "token"

    def _verify(self, scope: Scope) -> TokenInfo:
        assert self.tokens is not None
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        return self.tokens.verify(_bearer(scope), client=address)


def _path(route: BaseRoute) -> str:
    return str(route.path) if isinstance(route, Mount) else str(getattr(route, "path", ""))


def _host(scope: Scope) -> str | None:
    """The ``Host`` header without its port, lower-cased (``None`` when absent or bad)."""
    values = [v for k, v in scope.get("headers", ()) if k == b"host"]
    if len(values) != 1:
        return None
    try:
        text = values[0].decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return None
    if text.startswith("["):  # [::1]:8080
        end = text.find("]")
        return text[1:end] if end > 0 else None
    name, _, port = text.partition(":")
    if port and not port.isdigit():
        return None
    return name or None


#: What a present but unusable ``Authorization`` header is checked as (never a secret).
_MALFORMED = "malformed"


def _bearer(scope: Scope) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or ``None`` when there is none.

    A header that is present but not a bearer token is returned as it is, to be refused
    as malformed; its bytes are read as Latin-1, so invalid UTF-8 is just malformed.
    """
    values = [v for k, v in scope.get("headers", ()) if k == b"authorization"]
    if not values:
        return None
    text = bytes(values[0]).decode("latin-1")
    scheme, _, credentials = text.partition(" ")
    if len(values) > 1 or scheme.lower() != "bearer":
        return _MALFORMED
    return credentials.strip()


def _security_refusal(exc: SecurityError) -> Any:
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidTokenError):
        headers["www-authenticate"] = 'Bearer realm="conveyor"'
    if isinstance(exc, TooManyAttemptsError):
        headers["retry-after"] = str(exc.fields.get("retry_after", 60))
    return _refuse(exc.status, exc.code, exc.message, exc.hint, headers)


def _refuse(
    status: int,
    code: str,
    message: str,
    hint: str | None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    body: dict[str, Any] = {"error": message, "code": code}
    if hint:
        body["hint"] = hint
    return json_response(body, status, dict(headers or {}))
