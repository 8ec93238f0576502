"""The UI's machinery: who is looking (:class:`Viewer`), one request to a page
(:class:`PageRequest`) and the registry that adds pages to an application (:class:`UI`).

Pages are plain Starlette routes added with their full paths (so the access guard's route
walk sees them), each with the permission it needs. The guard in front of the server only
checks the host for them (policy ``"page"``); this module authenticates the browser by its
session cookie, checks the page's permission, and on every ``POST`` the form's CSRF token,
before a handler runs. Handlers are synchronous (database reads) and run in a worker thread.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from conveyor.core import Actor
from conveyor.errors import ConveyorError, http_status
from conveyor.security import (
    AccessDeniedError,
    Permission,
    Role,
    Sessions,
    TokenInfo,
    authorize,
)
from conveyor.ui._render import Renderer
from conveyor.workspace import Workspace

__all__ = ["SESSION_COOKIE", "UI", "FormError", "PageRequest", "Viewer"]

log = logging.getLogger("conveyor.ui")

#: The session cookie's name (HttpOnly, SameSite=Strict, Secure behind TLS).
SESSION_COOKIE = "conveyor_session"
#: The largest form body a page takes (forms carry a reason and a few fields).
MAX_FORM_BYTES = 64 * 1024

Handler = Callable[..., Response]
RawEndpoint = Callable[[Request], Awaitable[Response]]


class FormError(ConveyorError, ValueError):
    """A submitted form is not what the page takes (bad encoding, too large, a field missing)."""

    code = "invalid_form"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at the pages.

    Attributes:
        name: Shown in the header (``token:NAME`` on a server, the local user otherwise).
        role: The token's role (``admin`` for the local UI).
        token: The token of the session (``None`` for the local UI, which may do anything
            its user may do from the command line).
        csrf: The CSRF token every form of this viewer carries.
    """

    name: str
    role: str
    token: TokenInfo | None
    csrf: str

    @property
    def local(self) -> bool:
        """The local UI (``conveyor ui``): no sign-in, no sign-out."""
        return self.token is None

    def can(
        self, permission: Permission, *, environment: str | None = None, protected: bool = False
    ) -> bool:
        """Whether this viewer may do ``permission`` (in ``environment``)."""
        if self.token is None:
            return True
        try:
            authorize(self.token, permission, environment=environment, protected=protected)
        except AccessDeniedError:
            return False
        return True

    def require(
        self, permission: Permission, *, environment: str | None = None, protected: bool = False
    ) -> None:
        """:meth:`can`, or :class:`~conveyor.security.AccessDeniedError` (403)."""
        if self.token is not None:
            authorize(self.token, permission, environment=environment, protected=protected)


@dataclass
class PageRequest:
    """One request to a page: the viewer, the workspace to act in, query and form fields."""

    request: Request
    viewer: Viewer
    ws: Workspace
    form: Mapping[str, str] = field(default_factory=dict)

    def query(self, name: str, default: str | None = None, *, max_length: int = 256) -> str | None:
        """Query parameter ``name`` (at most ``max_length`` characters), or ``default``."""
        value = self.request.query_params.get(name)
        if value is None or value == "":
            return default
        if len(value) > max_length:
            raise FormError(
                f"Query parameter {name!r} is {len(value)} characters long; "
                f"this page takes at most {max_length}.",
                hint="Shorten the filter and try again.",
                parameter=name,
            )
        return value

    def query_int(self, name: str, default: int, *, low: int = 0, high: int = 10**9) -> int:
        """Query parameter ``name`` as an integer in ``[low, high]``, or ``default``."""
        text = self.query(name, max_length=20)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise FormError(
                f"Query parameter {name!r} must be a whole number, got {text!r}.",
                hint=f"Pass a number from {low} to {high}.",
                parameter=name,
            ) from None
        if not low <= value <= high:
            raise FormError(
                f"Query parameter {name!r} is {value}; it must be from {low} to {high}.",
                hint=f"Pass a number from {low} to {high}.",
                parameter=name,
            )
        return value

    def field(self, name: str, *, required: bool = False, max_length: int = 1000) -> str | None:
        """Form field ``name`` (stripped; ``None`` when empty unless ``required``)."""
        value = (self.form.get(name) or "").strip()
        if len(value) > max_length:
            raise FormError(
                f"Field {name!r} is {len(value)} characters long; at most {max_length} are taken.",
                hint="Shorten it and submit again.",
                field=name,
            )
        if not value:
            if required:
                raise FormError(
                    f"Field {name!r} is required.", hint="Fill it in and submit again.", field=name
                )
            return None
        return value


class UI:
    """The pages of the web UI over a workspace, added to an application.

    Args:
        ws: The workspace shown.
        sessions: Signs people in with tokens (``conveyor server``); ``None`` for the local
            UI (``conveyor ui``), where the viewer is the workspace's user.
        secure_cookies: Mark cookies ``Secure`` (the server runs behind TLS); by default
            they are when the request came over HTTPS.
    """

    def __init__(
        self, ws: Workspace, *, sessions: Sessions | None = None, secure_cookies: bool = False
    ) -> None:
        self.ws = ws
        self.sessions = sessions
        self.secure_cookies = secure_cookies
        self.renderer = Renderer()
        #: Path -> the permission its page needs (``None``: open, e.g. static files).
        self.permissions: dict[str, Permission | None] = {}
        self._routes: list[tuple[str, Callable[..., Any], list[str], str]] = []
        self._local_csrf = secrets.token_urlsafe(32)
        self._views: OrderedDict[str, Workspace] = OrderedDict()
        self._views_lock = threading.Lock()

    # -- registering pages -----------------------------------------------------------

    def page(
        self,
        path: str,
        *,
        name: str,
        permission: Permission | None = Permission.READ,
        method: Literal["GET", "POST"] = "GET",
    ) -> Callable[[Handler], Handler]:
        """Register ``handler(page: PageRequest, **path_params) -> Response`` at ``path``.

        ``GET`` pages need a signed-in viewer with ``permission`` (else a redirect to the
        sign-in page); ``POST`` pages also need the form's ``csrf`` field to match the
        session's (else 403) and get the parsed form in :attr:`PageRequest.form`.
        """

        def register(handler: Handler) -> Handler:
            endpoint = self._endpoint(handler, permission, method)
            self._add(path, endpoint, [method], name)
            if permission is not None:
                self.permissions.setdefault(path, permission)
            return handler

        return register

    def raw(
        self, path: str, *, name: str, methods: list[str]
    ) -> Callable[[RawEndpoint], RawEndpoint]:
        """Register an open ``async`` endpoint (static files, sign-in) as it is."""

        def register(endpoint: RawEndpoint) -> RawEndpoint:
            self._add(path, endpoint, methods, name)
            return endpoint

        return register

    def _add(self, path: str, endpoint: Callable[..., Any], methods: list[str], name: str) -> None:
        self._routes.append((path, endpoint, methods, name))
        self.permissions.setdefault(path, None)

    def install(self, app: Any) -> None:
        """Add every registered page to ``app`` (a Starlette or FastAPI application)."""
        for path, endpoint, methods, name in self._routes:
            app.router.add_route(
                path, endpoint, methods=methods, name=name, include_in_schema=False
            )

    @property
    def paths(self) -> list[str]:
        """Every path registered, for the access guard's policy table."""
        return [path for path, *_ in self._routes]

    # -- one request -------------------------------------------------------------------

    def _endpoint(
        self, handler: Handler, permission: Permission | None, method: str
    ) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            viewer = await run_in_threadpool(self.viewer, request)
            if viewer is None:
                if method == "GET":
                    target = request.url.path
                    if request.url.query:
                        target += "?" + request.url.query
                    quoted = urllib.parse.quote(target, safe="")
                    return RedirectResponse(f"/login?next={quoted}", status_code=303)
                return self.error(request, None, 401, "Sign in first.", "Open /login.")
            form: dict[str, str] = {}
            try:
                if method == "POST":
                    form = parse_form(await request.body())
                    if not hmac.compare_digest(form.get("csrf", ""), viewer.csrf):
                        return self.error(
                            request,
                            viewer,
                            403,
                            "This form's security token is missing or out of date.",
                            "Reload the page and submit the form again.",
                        )
                if permission is not None:
                    viewer.require(permission)
                page = PageRequest(request, viewer, self.workspace_of(viewer), form)
                response = await run_in_threadpool(handler, page, **request.path_params)
            except ConveyorError as exc:
                return self.error(request, viewer, http_status(exc), exc.message, exc.hint)
            except (KeyError, LookupError) as exc:
                return self.error(request, viewer, 404, _text(exc), None)
            except ValueError as exc:
                return self.error(request, viewer, 400, _text(exc), None)
            response.headers["server-timing"] = (
                f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            )
            return response

        endpoint.__name__ = getattr(handler, "__name__", "page")
        return endpoint

    def viewer(self, request: Request) -> Viewer | None:
        """The viewer of ``request``: the local user, or the session's token (``None``)."""
        if self.sessions is None:
            return Viewer(
                name=self.ws.actor.name, role=str(Role.ADMIN), token=None, csrf=self._local_csrf
            )
        found = self.sessions.find(request.cookies.get(SESSION_COOKIE))
        if found is None:
            return None
        token = found.token
        return Viewer(
            name=f"token:{token.name}", role=str(token.role), token=token, csrf=found.csrf
        )

    def workspace_of(self, viewer: Viewer) -> Workspace:
        """The workspace to act in as ``viewer`` (changes are audited under its name)."""
        if viewer.token is None:
            return self.ws
        actor = Actor(name=viewer.name, kind="service")
        with self._views_lock:
            view = self._views.get(actor.name)
            if view is None:
                ws = self.ws
                view = Workspace(ws.settings, ws.store, ws.artifacts, actor)
                self._views[actor.name] = view
                while len(self._views) > 64:
                    self._views.popitem(last=False)
            self._views.move_to_end(actor.name)
            return view

    def render(
        self, page: PageRequest, template: str, *, status: int = 200, **context: Any
    ) -> Response:
        """Render ``template`` for ``page`` with ``context`` (escaped everywhere)."""
        return self.renderer.response(
            template, status=status, viewer=page.viewer, path=page.request.url.path, **context
        )

    def error(
        self,
        request: Request,
        viewer: Viewer | None,
        status: int,
        message: str,
        hint: str | None,
    ) -> Response:
        """An error page (the message and hint escaped), with ``status``."""
        return self.renderer.response(
            "error.html.j2",
            status=status,
            viewer=viewer,
            path=request.url.path,
            status_code=status,
            message=message,
            hint=hint,
        )

    def cookie_secure(self, request: Request) -> bool:
        """Whether cookies set for ``request`` are ``Secure``."""
        return self.secure_cookies or request.url.scheme == "https"


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as a dict (the first of each field).

    Raises:
        FormError: the body is larger than :data:`MAX_FORM_BYTES`, is not UTF-8 or has
            more than 50 fields.
    """
    if len(body) > MAX_FORM_BYTES:
        raise FormError(
            f"The form is {len(body)} bytes; pages take at most {MAX_FORM_BYTES}.",
            hint="Shorten the reason and submit again.",
        )
    try:
        text = body.decode("utf-8")
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=50, errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(
            f"The form could not be read: {_text(exc)[:120]}.",
            hint="Submit the form from the page, as UTF-8.",
        ) from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _text(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__


def now() -> datetime:
    """The current time (UTC), for pages that show ages."""
    return datetime.now(UTC)
