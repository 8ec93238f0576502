"""Every route of both servers has an access policy, and an anonymous caller learns nothing.

The control plane (:func:`conveyor.api.create_app`) and the prediction server
(:func:`conveyor.serving.create_app`) refuse a route missing from their policy table
(:data:`conveyor.api.API_POLICIES`, :data:`conveyor.serving.ROUTE_POLICIES`). These tests
walk both route tables, mounted sub-applications and the OpenAPI/docs routes included,
so a new route without a policy fails here rather than answering 403 in production; a
lazily included FastAPI router fails too, since the guard cannot see the routes inside
it. Without a token every route but health answers 401, and so does a path no route
matches: an anonymous caller cannot tell which routes exist.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route

from conveyor.api import API_POLICIES
from conveyor.api import create_app as create_control_plane
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.serving import ROUTE_POLICIES, ModelHost, Policy
from conveyor.serving import create_app as create_prediction_server
from conveyor.serving._auth import ServingAccess
from conveyor.workspace import Workspace
from server_support import serve_app

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "serving"))
from serving_support import linear_model

#: What the walk reports for a lazily included router: its routes are out of sight.
INCLUDED = "<included router: routes hidden from the access guard>"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with Workspace.open(tmp_path_factory.mktemp("routes")) as workspace:
        yield workspace


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every route with its full path, mounted ones included; an included router as
    :data:`INCLUDED`."""
    for route in routes:
        if isinstance(route, _IncludedRouter):
            yield INCLUDED, route
            continue
        path = prefix + str(getattr(route, "path", ""))
        yield path, route
        if isinstance(route, Mount):
            yield from walk(list(route.routes), path)


def unlisted(app: Any, policies: Mapping[str, Policy]) -> list[str]:
    """The route paths of ``app`` the guard would refuse for lack of a policy.

    A mount's own path in the table covers what is mounted under it (the guard looks up
    the mount's path for any request the mount matches).
    """
    walked = list(walk(list(app.router.routes)))
    covered = [p for p, r in walked if isinstance(r, Mount) and p in policies]
    return sorted(
        {
            path
            for path, _ in walked
            if path not in policies and not any(path.startswith(m + "/") for m in covered)
        }
    )


def _control_plane(ws: Workspace) -> FastAPI:
    return create_control_plane(ws, tokens=Tokens(SqlTokenRecords(ws.store)))


def _prediction_server(ws: Workspace) -> FastAPI:
    host = ModelHost()
    host.add(linear_model())
    app: FastAPI = create_prediction_server(
        host, access=ServingAccess(Tokens(SqlTokenRecords(ws.store)))
    )
    return app


def test_every_control_plane_route_has_a_policy(ws: Workspace) -> None:
    app = _control_plane(ws)
    paths = {path for path, _ in walk(list(app.router.routes))}
    assert {"/openapi.json", "/docs", "/redoc", "/api/v1/health"} <= paths
    assert "/api/v1/records/model/insert_version" in paths
    assert unlisted(app, app.state.policies) == []
    # The API's routes are in its static table; the rest are the web UI's pages, which
    # the guard only host-checks (policy "page") and the UI signs in and authorizes.
    pages = sorted(set(app.state.policies) - set(API_POLICIES))
    assert {"/", "/login", "/logout", "/static/{name}"} <= set(pages)
    assert all(app.state.policies[p] == "page" for p in pages)
    assert not any(p.startswith("/api/") for p in pages)


def test_every_prediction_server_route_has_a_policy(ws: Workspace) -> None:
    app = _prediction_server(ws)
    paths = {path for path, _ in walk(list(app.router.routes))}
    assert {"/openapi.json", "/docs", "/v1/predict", "/metrics"} <= paths
    assert unlisted(app, ROUTE_POLICIES) == []


def test_no_policy_names_a_route_that_does_not_exist(ws: Workspace) -> None:
    """A stale entry would hide a renamed route behind a policy written for another."""
    control_plane = _control_plane(ws)
    for app, policies in (
        (control_plane, API_POLICIES),
        (control_plane, control_plane.state.policies),
        (_prediction_server(ws), ROUTE_POLICIES),
    ):
        paths = {path for path, _ in walk(list(app.router.routes))}
        assert sorted(set(policies) - paths) == []


def test_the_walk_finds_mounted_and_included_routes_without_a_policy(ws: Workspace) -> None:
    """The check above would catch a mounted sub-app or an included router."""

    async def page(request: Any) -> PlainTextResponse:
        return PlainTextResponse("internal")

    app = _control_plane(ws)
    app.router.routes.append(Mount("/api/v1/mounted", routes=[Route("/inner", page)]))
    router = APIRouter()
    router.add_api_route("/api/v1/hidden", page)
    app.include_router(router)
    found = unlisted(app, API_POLICIES)
    assert "/api/v1/mounted" in found
    assert "/api/v1/mounted/inner" in found
    included = [r for r in app.router.routes if isinstance(r, _IncludedRouter)]
    if included:  # FastAPI 0.165 includes lazily: the guard cannot see inside
        assert INCLUDED in found
    else:  # an eager include copies the route into the table
        assert "/api/v1/hidden" in found


CASES = [
    ("control plane", _control_plane, API_POLICIES),
    ("prediction server", _prediction_server, ROUTE_POLICIES),
]


@pytest.mark.parametrize(("label", "build", "policies"), CASES, ids=[c[0] for c in CASES])
def test_without_a_token_every_route_but_health_answers_401(
    ws: Workspace, label: str, build: Any, policies: Mapping[str, Policy]
) -> None:
    app = build(ws)
    policies = getattr(app.state, "policies", policies)  # the control plane's UI pages too
    routes = [(p, r) for p, r in walk(list(app.router.routes)) if not isinstance(r, Mount)]
    with serve_app(app) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        refusal = client.get("/no/such/route").json()
        assert refusal["code"] == "invalid_token"
        seen: dict[str, int] = {}
        for path, route in routes:
            concrete = re.sub(r"\{[^}]+\}", "x1", path)
            methods = sorted(getattr(route, "methods", None) or {"GET"})
            method = "POST" if "POST" in methods else methods[0]
            answer = client.request(method, concrete, json={})
            seen[path] = answer.status_code
            if policies[path] == "page":  # the web UI: sign in first, never a page's data
                _check_page_refusal(client, path, concrete, method, answer)
                continue
            if policies[path] in ("health", "metrics"):  # open by default in both
                assert answer.status_code == 200, (label, path, answer.text)
                continue
            assert answer.status_code == 401, (label, path, answer.text)
            if method == "HEAD":  # an answer to HEAD has no body
                continue
            assert answer.json() == refusal, path
            assert answer.headers["www-authenticate"].startswith("Bearer")
            # another method on a known path reads the same as an unknown path
            other = "GET" if method == "POST" else "DELETE"
            wrong = client.request(other, concrete)
            assert (wrong.status_code, wrong.json()) == (401, refusal), (other, path)
        assert seen, "no routes walked"
        assert all(status < 500 for status in seen.values())


def _check_page_refusal(
    client: httpx.Client, path: str, concrete: str, method: str, answer: httpx.Response
) -> None:
    """A web UI route without a session: the sign-in page, a redirect to it, or a refusal."""
    if path == "/login":  # the sign-in form; posting it without its CSRF cookie fails
        assert answer.status_code == 403, answer.text
        assert client.get("/login").status_code == 200
    elif path == "/logout":
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login"
    elif path == "/static/{name}":
        assert answer.status_code == 404  # only the UI's own files, none named x1
    elif method == "GET":
        assert answer.status_code == 303, (path, answer.text)
        assert answer.headers["location"].startswith("/login?next=")
    else:
        assert answer.status_code == 401, (path, answer.text)
        assert "Sign in first" in answer.text


@pytest.mark.parametrize(("label", "build", "policies"), CASES, ids=[c[0] for c in CASES])
def test_unknown_paths_read_like_known_ones_to_an_anonymous_caller(
    ws: Workspace, label: str, build: Any, policies: Mapping[str, Policy]
) -> None:
    """A 404 would tell an anonymous caller which routes exist; it gets 401 everywhere."""
    known = "/api/v1/records/model/get_version" if label == "control plane" else "/v1/predict"
    unknown_paths = [
        "/no/such/route",
        "/api/v1/records/model/no_such_method",
        "/api/v1/records/../../etc/passwd",
        "/api/v1/%00",
        "/" + "a" * 4000,
        "/v1/predict/extra",
    ]
    with serve_app(build(ws)) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        expected = client.post(known, json={})
        assert expected.status_code == 401
        for path in unknown_paths:
            for method in ("GET", "POST", "PUT", "DELETE", "OPTIONS"):
                answer = client.request(method, path)
                assert answer.status_code == 401, (method, path, answer.status_code)
                assert answer.json() == expected.json(), (method, path)
