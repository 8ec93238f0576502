"""Assembling the UI: its pages, static files and sign-in, on the control plane or alone.

``conveyor server`` adds the pages to its application at ``/`` behind sign-in with a token
(:func:`add_ui`); ``conveyor ui`` serves them alone over a local workspace, on loopback,
without sign-in (:func:`create_ui_app`).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import secrets
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib import resources

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from conveyor.errors import ConveyorError
from conveyor.security import InvalidTokenError, Sessions, TooManyAttemptsError
from conveyor.serving import AccessGuard, Policy
from conveyor.ui import (
    _audit,
    _datasets,
    _deployments,
    _features,
    _models,
    _monitoring,
    _overview,
    _runs,
)
from conveyor.ui._core import SESSION_COOKIE, UI, FormError, parse_form
from conveyor.ui._render import SECURITY_HEADERS
from conveyor.workspace import Workspace

__all__ = ["LOCAL_HOSTS", "PAGE_GROUPS", "add_ui", "build_ui", "create_ui_app"]

#: The page groups, each a module with ``add_pages(ui)``.
PAGE_GROUPS: tuple[Callable[[UI], None], ...] = (
    _overview.add_pages,
    _datasets.add_pages,
    _features.add_pages,
    _runs.add_pages,
    _models.add_pages,
    _deployments.add_pages,
    _monitoring.add_pages,
    _audit.add_pages,
)

#: ``Host`` values the local UI answers (it binds loopback only).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

_LOGIN_COOKIE = "conveyor_login_csrf"


def build_ui(ws: Workspace, *, sessions: Sessions | None = None) -> UI:
    """Every page, static file and (with ``sessions``) the sign-in pages over ``ws``."""
    ui = UI(ws, sessions=sessions)
    _add_static(ui)
    if sessions is not None:
        _add_sign_in(ui, sessions)
    for add_pages in PAGE_GROUPS:
        add_pages(ui)
    return ui


def add_ui(app: object, ws: Workspace, sessions: Sessions) -> dict[str, Policy]:
    """Add the pages to the control plane ``app``; their access policies (``"page"``)."""
    ui = build_ui(ws, sessions=sessions)
    ui.install(app)
    return dict.fromkeys(ui.paths, "page")


def create_ui_app(ws: Workspace, *, allowed_hosts: Sequence[str] = LOCAL_HOSTS) -> Starlette:
    """The UI alone over ``ws`` (``conveyor ui``): no sign-in, loopback hosts only.

    Every form still carries a CSRF token (a page of another site cannot post to it),
    and the ``Host`` header must be one of ``allowed_hosts`` (no DNS rebinding).
    """
    ui = build_ui(ws)
    app = Starlette()
    app.state.workspace = ws
    ui.install(app)
    policies: Mapping[str, Policy] = dict.fromkeys(ui.paths, "page")
    app.add_middleware(
        AccessGuard,
        routes=lambda: app.router.routes,
        tokens=None,
        allowed_hosts=allowed_hosts,
        policies=policies,
    )
    return app


# -- static files ------------------------------------------------------------------------


@cache
def _static_file(name: str) -> tuple[bytes, bytes, str]:
    """``name``'s bytes, gzipped bytes and ETag (plotly.js from the installed package)."""
    if name == "plotly.min.js":
        from plotly.offline import get_plotlyjs

        data = get_plotlyjs().encode("utf-8")
    else:
        data = resources.files("conveyor.ui").joinpath("static", name).read_bytes()
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    return data, gzip.compress(data, compresslevel=6, mtime=0), etag


_STATIC_TYPES = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "plotly.min.js": "text/javascript; charset=utf-8",
}


def _add_static(ui: UI) -> None:
    @ui.raw("/static/{name}", name="ui.static", methods=["GET", "HEAD"])
    async def static(request: Request) -> Response:
        name = str(request.path_params["name"])
        media = _STATIC_TYPES.get(name)
        if media is None:
            return Response("Not found.", status_code=404, media_type="text/plain")
        data, zipped, etag = await run_in_threadpool(_static_file, name)
        headers = {
            "etag": etag,
            "cache-control": "public, max-age=3600",
            "x-content-type-options": "nosniff",
            "vary": "accept-encoding",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["content-encoding"] = "gzip"
            data = zipped
        return Response(data, media_type=media, headers=headers)


# -- sign in and out ---------------------------------------------------------------------


def _add_sign_in(ui: UI, sessions: Sessions) -> None:
    def login_page(
        request: Request, *, status: int = 200, error: str | None = None, wanted: str = ""
    ) -> Response:
        # Double-submit: the form's token must equal this cookie (SameSite=Strict), so a
        # page of another site cannot sign a browser in with the attacker's token.
        csrf = secrets.token_urlsafe(24)
        if request.method == "GET":
            wanted = request.query_params.get("next", "")
        response = ui.renderer.response(
            "login.html.j2",
            status=status,
            viewer=None,
            path="/login",
            csrf=csrf,
            next=_safe_next(wanted or "/"),
            error=error,
        )
        response.set_cookie(
            _LOGIN_COOKIE,
            csrf,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=ui.cookie_secure(request),
            path="/login",
        )
        return response

    @ui.raw("/login", name="ui.login", methods=["GET", "POST"])
    async def login(request: Request) -> Response:
        if request.method == "GET":
            return login_page(request)
        try:
            form = parse_form(await request.body())
        except FormError as exc:
            return login_page(request, status=400, error=exc.message)
        wanted = form.get("next", "/")
        expected = request.cookies.get(_LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
            return login_page(
                request,
                status=403,
                error="This sign-in form is out of date (or was not sent from this server). "
                "Try again.",
                wanted=wanted,
            )
        client = request.client.host if request.client else "unknown"
        try:
            cookie, opened = await run_in_threadpool(
                sessions.open, form.get("token", "").strip(), client=client
            )
        except TooManyAttemptsError as exc:
            return login_page(request, status=429, error=exc.message, wanted=wanted)
        except InvalidTokenError:
            return login_page(
                request,
                status=401,
                error="That token is not valid: it is unknown, expired or revoked.",
                wanted=wanted,
            )
        except ConveyorError as exc:
            return login_page(request, status=503, error=exc.message, wanted=wanted)
        response = RedirectResponse(_safe_next(form.get("next", "/")), status_code=303)
        lifetime = int((opened.expires_at - opened.created_at).total_seconds())
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=max(lifetime, 1),
            httponly=True,
            samesite="strict",
            secure=ui.cookie_secure(request),
            path="/",
        )
        response.delete_cookie(_LOGIN_COOKIE, path="/login")
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @ui.raw("/logout", name="ui.logout", methods=["POST"])
    async def logout(request: Request) -> Response:
        viewer = await run_in_threadpool(ui.viewer, request)
        if viewer is None:
            return RedirectResponse("/login", status_code=303)
        try:
            form = parse_form(await request.body())
        except FormError as exc:
            return ui.error(request, viewer, 400, exc.message, exc.hint)
        if not hmac.compare_digest(form.get("csrf", ""), viewer.csrf):
            return ui.error(
                request,
                viewer,
                403,
                "This form's security token is missing or out of date.",
                "Reload the page and sign out again.",
            )
        await run_in_threadpool(sessions.close, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _safe_next(target: str) -> str:
    """``target`` if it is a path on this server, else ``/`` (no open redirect)."""
    target = target.strip()
    parsed = urllib.parse.urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or parsed.scheme
        or parsed.netloc
        or any(ord(c) < 32 for c in target)
        or len(target) > 2000
    ):
        return "/"
    return target
