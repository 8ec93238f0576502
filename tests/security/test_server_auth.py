"""The prediction server under ``serving.auth: token``: every route has a policy (default
deny), tokens are checked before any handler, answers never reveal which models or tokens
exist, host names are checked in both modes, and no bad request stops the server."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route

from conveyor.security import FailureLimiter, SqlTokenRecords, Tokens
from conveyor.serving import ModelHost, ServingSettings, create_app
from conveyor.serving._auth import ROUTE_POLICIES, ServingAccess
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "serving"))
from serving_support import linear_model, running

pytestmark = pytest.mark.slow

COLUMNS = ["mean radius", "mean texture", "mean area"]
ROW = {"rows": [{"mean radius": 14.1, "mean texture": 19.3, "mean area": 654.9}]}
V2 = {
    "inputs": [
        {"name": c, "shape": [1], "datatype": "FP64", "data": [v]}
        for c, v in ROW["rows"][0].items()
    ]
}
PREDICTION_CALLS = [
    ("/v1/predict", ROW),
    ("/invocations", {"dataframe_records": ROW["rows"]}),
    ("/v2/models/cancer/infer", V2),
    ("/v2/models/cancer/versions/1/infer", V2),
    ("/v1/explain", ROW),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _running(app: Any) -> Iterator[httpx.Client]:
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert thread.is_alive(), "the server did not start"
                assert time.monotonic() < deadline, "the server never turned ready"
                time.sleep(0.05)
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace with cancer@1 and ``serving.auth: token``."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame[COLUMNS]
    model = LogisticRegression(max_iter=5000).fit(frame, data.target)
    env = {"CONVEYOR_SERVING__AUTH": "token"}
    with Workspace.open(tmp_path_factory.mktemp("auth"), env=env) as workspace:
        assert workspace.settings.config.serving.auth == "token"
        workspace.models.register("cancer", model, input_example=frame.head(20), onnx=False)
        yield workspace


@pytest.fixture(scope="module")
def secrets(ws: Workspace) -> dict[str, str]:
    tokens = Tokens(SqlTokenRecords(ws.store))
    made = {
        role: tokens.create(role, role, actor=ws.actor)[0]
        for role in ("viewer", "predictor", "developer", "admin")
    }
    made["staging"] = tokens.create("staging", "predictor", environments=["staging"],
                                    actor=ws.actor)[0]  # fmt: skip
    made["revoked"] = tokens.create("revoked", "admin", actor=ws.actor)[0]
    tokens.revoke("revoked", actor=ws.actor)
    return made


@pytest.fixture
def client(ws: Workspace, secrets: dict[str, str]) -> Iterator[httpx.Client]:
    """A server of cancer@1 per test: its failure counts start at zero."""
    with _running(build_app(ws, "cancer@1")) as opened:
        yield opened


def _bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        yield path, route
        if isinstance(route, Mount):
            yield from _walk(list(route.routes), path)


def test_every_route_of_the_server_has_a_policy() -> None:
    """A new route without an entry in the policy table fails here, not in production."""
    app = create_app(ModelHost(), access=ServingAccess(tokens=None))
    paths = [path for path, _ in _walk(list(app.routes))]
    assert {"/openapi.json", "/docs", "/v1/predict", "/v1/feedback", "/metrics"} <= set(paths)
    # a mount's own path covers what is under it
    mounts = {p for p, r in _walk(list(app.routes)) if isinstance(r, Mount)}
    covered = mounts & set(ROUTE_POLICIES)
    missing = [
        p for p in paths if p not in ROUTE_POLICIES and not any(p.startswith(m) for m in covered)
    ]
    assert missing == []


def test_a_route_without_a_policy_is_refused(ws: Workspace) -> None:
    host = ModelHost()
    host.add(linear_model())
    tokens = Tokens(SqlTokenRecords(ws.store))
    app = create_app(host, access=ServingAccess(tokens=tokens))

    async def secret_page(request: Any) -> PlainTextResponse:
        return PlainTextResponse("internal")

    app.router.routes.append(Route("/admin/secret", secret_page))
    app.router.routes.append(Mount("/mounted", routes=[Route("/x", secret_page)]))
    admin = tokens.create("walk-admin", "admin", actor=ws.actor)[0]
    with running(app) as url:
        for path in ("/admin/secret", "/mounted/x"):
            answer = httpx.get(url + path, headers=_bearer(admin), timeout=30)
            assert answer.status_code == 403, path
            assert answer.json()["code"] == "access_denied"
            assert "internal" not in answer.text


@pytest.mark.parametrize(("path", "body"), PREDICTION_CALLS)
def test_prediction_routes_need_a_token(client: httpx.Client, path: str, body: Any) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "The token is not valid.",
        "code": "invalid_token",
        "hint": answer.json()["hint"],
    }
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("path", "body"), PREDICTION_CALLS)
def test_a_predictor_token_predicts(
    client: httpx.Client, secrets: dict[str, str], path: str, body: Any
) -> None:
    answer = client.post(path, json=body, headers=_bearer(secrets["predictor"]))
    assert answer.status_code == 200, answer.text


def test_a_viewer_token_may_not_predict(client: httpx.Client, secrets: dict[str, str]) -> None:
    answer = client.post("/v1/predict", json=ROW, headers=_bearer(secrets["viewer"]))
    assert answer.status_code == 403
    assert answer.json()["code"] == "access_denied"


def test_feedback_needs_the_feedback_permission(
    client: httpx.Client, secrets: dict[str, str]
) -> None:
    predicted = client.post("/v1/predict", json=ROW, headers=_bearer(secrets["predictor"]))
    labels = {"labels": [{"request_id": predicted.json()["request_id"], "label": 1}]}
    refused = client.post("/v1/feedback", json=labels, headers=_bearer(secrets["predictor"]))
    assert refused.status_code == 403
    assert "may not feedback" in refused.json()["error"]
    accepted = client.post("/v1/feedback", json=labels, headers=_bearer(secrets["developer"]))
    assert accepted.status_code == 200, accepted.text


def test_feedback_is_audited_under_the_token_that_sent_it(
    ws: Workspace, client: httpx.Client, secrets: dict[str, str]
) -> None:
    predicted = client.post("/v1/predict", json=ROW, headers=_bearer(secrets["predictor"]))
    labels = {"labels": [{"request_id": predicted.json()["request_id"], "label": 0}]}
    accepted = client.post("/v1/feedback", json=labels, headers=_bearer(secrets["developer"]))
    assert accepted.status_code == 200, accepted.text
    (event,) = ws.store.audit_log(action="predictions.feedback", limit=1)
    assert event.actor == "token:developer"


def test_answers_do_not_say_whether_a_model_exists(client: httpx.Client) -> None:
    known = client.post("/v2/models/cancer/infer", json=V2, headers=_bearer("cvy_" + "x" * 43))
    unknown = client.post("/v2/models/nosuch/infer", json=V2, headers=_bearer("cvy_" + "x" * 43))
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    meta_known = client.get("/v2/models/cancer")
    meta_unknown = client.get("/v2/models/nosuch")
    assert meta_known.status_code == meta_unknown.status_code == 401
    assert meta_known.json() == meta_unknown.json()


BAD_HEADERS: list[list[tuple[bytes, bytes]]] = [
    [(b"authorization", b"Bearer")],
    [(b"authorization", b"Token cvy_" + b"A" * 43)],
    [(b"authorization", b"Basic dXNlcjpwYXNz")],
    [(b"authorization", b"Bearer cvy_\xff\xfe" + b"a" * 41)],
    [(b"authorization", b"Bearer " + b"a" * 8000)],
    [(b"authorization", b"bearer cvy_" + b"A" * 43)],
    [(b"authorization", b"Bearer cvy_" + b"A" * 43), (b"authorization", b"Bearer x")],
]


@pytest.mark.parametrize("headers", BAD_HEADERS, ids=range(len(BAD_HEADERS)))
def test_bad_authorization_headers_get_401(
    client: httpx.Client, headers: list[tuple[bytes, bytes]]
) -> None:
    answer = client.post("/v1/predict", json=ROW, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_token"


def test_revoked_and_unknown_tokens_read_the_same(
    client: httpx.Client, secrets: dict[str, str]
) -> None:
    revoked = client.post("/v1/predict", json=ROW, headers=_bearer(secrets["revoked"]))
    unknown = client.post("/v1/predict", json=ROW, headers=_bearer("cvy_" + "Z" * 43))
    assert revoked.status_code == unknown.status_code == 401
    assert revoked.json() == unknown.json()
    assert secrets["revoked"] not in revoked.text


def test_health_and_metrics_are_open_by_default_and_docs_need_a_token(
    client: httpx.Client, secrets: dict[str, str]
) -> None:
    for path in ("/ping", "/health", "/v2/health/live", "/v2/health/ready", "/metrics", "/v2"):
        assert client.get(path).status_code == 200, path
    for path in ("/docs", "/openapi.json", "/redoc", "/no/such/route"):
        assert client.get(path).status_code == 401, path
    assert client.get("/openapi.json", headers=_bearer(secrets["viewer"])).status_code == 200


def test_health_and_metrics_can_be_closed(ws: Workspace, secrets: dict[str, str]) -> None:
    host = ModelHost()
    host.add(linear_model())
    tokens = Tokens(SqlTokenRecords(ws.store))
    access = ServingAccess(tokens, open_health=False, open_metrics=False)
    with running(create_app(host, access=access)) as url:
        for path in ("/ping", "/metrics", "/v2/health/ready"):
            assert httpx.get(url + path, timeout=30).status_code == 401, path
            ok = httpx.get(url + path, headers=_bearer(secrets["viewer"]), timeout=30)
            assert ok.status_code == 200, path


def test_a_token_scoped_to_another_environment_is_refused(
    ws: Workspace, secrets: dict[str, str]
) -> None:
    host = ModelHost()
    host.add(linear_model())
    access = ServingAccess(Tokens(SqlTokenRecords(ws.store)))
    app = create_app(host, settings=ServingSettings(environment="production"), access=access)
    with running(app) as url:
        body = {"rows": [{"age": 30.0, "spend": 10.0}]}
        refused = httpx.post(url + "/v1/predict", json=body, headers=_bearer(secrets["staging"]))
        assert refused.status_code == 403
        assert "not 'production'" in refused.json()["error"]
        ok = httpx.post(url + "/v1/predict", json=body, headers=_bearer(secrets["predictor"]))
        assert ok.status_code == 200


@pytest.mark.parametrize("tokens", [False, True], ids=["auth-none", "auth-token"])
def test_other_host_names_get_400_in_both_modes(ws: Workspace, tokens: bool) -> None:
    host = ModelHost()
    host.add(linear_model())
    access = ServingAccess(Tokens(SqlTokenRecords(ws.store)) if tokens else None)
    with running(create_app(host, access=access)) as url:
        for name in ("evil.example", "127.0.0.1.evil.example", "localhost:abc", "[::2]:80"):
            answer = httpx.get(url + "/ping", headers={"host": name}, timeout=30)
            assert answer.status_code == 400, name
            assert answer.json()["code"] == "invalid_host"
        for name in ("localhost", "LOCALHOST:8080", "[::1]:8080", "127.0.0.1"):
            assert httpx.get(url + "/ping", headers={"host": name}, timeout=30).status_code == 200


def test_no_cors_headers_are_sent(client: httpx.Client, secrets: dict[str, str]) -> None:
    origin = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    preflight = client.options("/v1/predict", headers=origin)
    assert "access-control-allow-origin" not in preflight.headers
    answer = client.post(
        "/v1/predict", json=ROW, headers={**_bearer(secrets["predictor"]), **origin}
    )
    assert "access-control-allow-origin" not in answer.headers


def test_a_flood_of_bad_tokens_is_limited_and_the_server_keeps_answering(
    ws: Workspace,
) -> None:
    host = ModelHost()
    host.add(linear_model())
    tokens = Tokens(SqlTokenRecords(ws.store), limiter=FailureLimiter(max_failures=5, window_s=2))
    good = tokens.create("flood-ok", "predictor", actor=ws.actor)[0]
    body = {"rows": [{"age": 30.0, "spend": 10.0}]}
    with running(create_app(host, access=ServingAccess(tokens))) as url:
        statuses = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for index in range(60):
                bad = _bearer(f"cvy_{index:043d}") if index % 2 else _bearer("x" * (index + 1))
                statuses.append(client.post("/v1/predict", json=body, headers=bad).status_code)
            assert set(statuses[:5]) == {401}
            assert set(statuses[5:]) == {429}
            blocked = client.post("/v1/predict", json=body, headers=_bearer(good))
            assert blocked.status_code == 429
            assert int(blocked.headers["retry-after"]) >= 1
            assert client.get("/ping").status_code == 200  # open routes still answer
            time.sleep(2.1)
            assert client.post("/v1/predict", json=body, headers=_bearer(good)).status_code == 200
    rejected = ws.store.audit_log(action="token.rejected")
    assert len([e for e in rejected if e.details.get("client") == "127.0.0.1"]) >= 5
    assert good not in repr(rejected)
    # a restarted server (a new limiter) answers the good token at once
    restarted = Tokens(SqlTokenRecords(ws.store))
    with running(create_app(host, access=ServingAccess(restarted))) as url:
        answer = httpx.post(url + "/v1/predict", json=body, headers=_bearer(good), timeout=30)
        assert answer.status_code == 200


def test_a_token_expired_while_the_server_runs_is_refused(ws: Workspace) -> None:
    host = ModelHost()
    host.add(linear_model())
    tokens = Tokens(SqlTokenRecords(ws.store))
    secret = tokens.create("brief", "predictor", expires=timedelta(seconds=1), actor=ws.actor)[0]
    body = {"rows": [{"age": 30.0, "spend": 10.0}]}
    with running(create_app(host, access=ServingAccess(tokens))) as url:
        assert (
            httpx.post(url + "/v1/predict", json=body, headers=_bearer(secret)).status_code == 200
        )
        time.sleep(1.1)
        assert (
            httpx.post(url + "/v1/predict", json=body, headers=_bearer(secret)).status_code == 401
        )
