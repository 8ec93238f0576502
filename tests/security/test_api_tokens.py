"""Tokens on the control plane (a real uvicorn server): who gets in, what they may do,
and what a failed attempt leaves behind.

Every bad token (missing, malformed, unknown, expired, revoked) gets the same 401; a
good one without the permission 403, also for a resource that does not exist (a 404
would confirm existence to a caller who may not read it); failures are rate-limited
per client and audited as ``token.rejected`` without the token's text, which appears in
no log and no answer; a foreign ``Host`` gets 400 and no CORS header is ever sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.api import create_app
from conveyor.core import Actor
from conveyor.security import FailureLimiter, SqlTokenRecords, Tokens
from conveyor.workspace import Workspace
from server_support import serve_app

ADMIN = Actor(name="admin", kind="user")
RECORDS = "/api/v1/records"
UNKNOWN = "cvy_" + "Q" * 43
ROLES = ("viewer", "predictor", "developer", "deployer", "admin")


class Clock:
    """The tokens' clock, moved by the test (expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Plane:
    """A control plane on 127.0.0.1: its workspace, a client, the tokens' clock and secrets."""

    ws: Workspace
    client: httpx.Client
    clock: Clock
    secrets: dict[str, str] = field(default_factory=dict)

    def bearer(self, name: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.secrets[name]}"}


@contextmanager
def plane(ws: Workspace, limiter: FailureLimiter) -> Iterator[Plane]:
    """A server over ``ws`` whose tokens use ``limiter`` and a clock the test moves."""
    clock = Clock()
    tokens = Tokens(SqlTokenRecords(ws.store), limiter=limiter, clock=clock)
    suffix = f"{len(ws.store.audit_log()):x}"  # token names unique per server
    secrets = {role: tokens.create(f"{role}-{suffix}", role, actor=ADMIN)[0] for role in ROLES}
    secrets["brief"] = tokens.create(
        f"brief-{suffix}", "admin", expires=timedelta(minutes=5), actor=ADMIN
    )[0]
    secrets["revoked"] = tokens.create(f"revoked-{suffix}", "admin", actor=ADMIN)[0]
    tokens.revoke(f"revoked-{suffix}", actor=ADMIN)
    with (
        serve_app(create_app(ws, tokens=tokens)) as (url, _),
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield Plane(ws, client, clock, secrets)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with Workspace.open(tmp_path_factory.mktemp("tokens")) as workspace:
        yield workspace


@pytest.fixture
def server(ws: Workspace) -> Iterator[Plane]:
    """A server whose failure limit is out of reach (rate limiting is tested apart)."""
    with plane(ws, FailureLimiter(max_failures=10_000)) as opened:
        yield opened


def _list_models(server: Plane, headers: Any) -> httpx.Response:
    return server.client.post(f"{RECORDS}/model/list_models", json={}, headers=headers)


BAD_HEADERS: dict[str, list[tuple[bytes, bytes]]] = {
    "missing": [],
    "bearer-alone": [(b"authorization", b"Bearer")],
    "other-scheme": [(b"authorization", f"Token {UNKNOWN}".encode())],
    "basic": [(b"authorization", b"Basic x")],
    "invalid-utf8": [(b"authorization", b"Bearer cvy_\xff\xfe\xc3(" + b"a" * 39)],
    "ten-kilobytes": [(b"authorization", b"Bearer cvy_" + b"A" * 10_240)],
    "unknown": [(b"authorization", f"Bearer {UNKNOWN}".encode())],
    "two-headers": [
        (b"authorization", f"Bearer {UNKNOWN}".encode()),
        (b"authorization", b"Bearer x"),
    ],
}


def test_every_bad_token_gets_the_same_401(server: Plane) -> None:
    answers = {name: _list_models(server, headers) for name, headers in BAD_HEADERS.items()}
    server.clock.now += timedelta(minutes=6)
    answers["expired"] = _list_models(server, server.bearer("brief"))
    answers["revoked"] = _list_models(server, server.bearer("revoked"))
    first = answers["missing"].json()
    assert first["code"] == "invalid_token"
    assert first["error"] == "The token is not valid."
    for name, answer in answers.items():
        assert answer.status_code == 401, (name, answer.text)
        assert answer.headers["content-type"].startswith("application/json"), name
        assert answer.json() == first, name
        assert answer.headers["www-authenticate"] == 'Bearer realm="conveyor"', name


def test_a_token_works_until_it_expires(server: Plane) -> None:
    assert _list_models(server, server.bearer("brief")).status_code == 200
    server.clock.now += timedelta(minutes=4, seconds=59)
    assert _list_models(server, server.bearer("brief")).status_code == 200
    server.clock.now += timedelta(seconds=2)
    assert _list_models(server, server.bearer("brief")).status_code == 401


WRONG_ROLE = [
    ("viewer", "model/insert_version", {}),
    ("viewer", "run/create_run", {}),
    ("viewer", "deployment/record_transition", {}),
    ("predictor", "model/list_models", {}),
    ("predictor", "dataset/versions", {"name": "churn"}),
    ("developer", "token/list", {}),
    ("developer", "token/add", {}),
    ("deployer", "token/revoke", {"name": "admin"}),
]


@pytest.mark.parametrize(("role", "route", "body"), WRONG_ROLE)
def test_a_token_without_the_permission_gets_403(
    server: Plane, role: str, route: str, body: Any
) -> None:
    answer = server.client.post(f"{RECORDS}/{route}", json=body, headers=server.bearer(role))
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "access_denied"
    assert server.secrets[role] not in answer.text


def test_a_missing_resource_reads_403_not_404_to_a_token_that_may_not_read(
    server: Plane,
) -> None:
    admin, predictor = server.bearer("admin"), server.bearer("predictor")
    missing = {"ref": {"name": "no-such-model", "version": 3}}
    # the admin learns it is missing...
    found = server.client.post(f"{RECORDS}/model/get_version", json=missing, headers=admin)
    assert found.status_code == 404, found.text
    # ...a predictor learns nothing: the same 403 for a missing and an existing name
    refused = server.client.post(f"{RECORDS}/model/get_version", json=missing, headers=predictor)
    runs = server.client.post(
        f"{RECORDS}/run/get_run", json={"run_id": "nope"}, headers=server.bearer("predictor")
    )
    listed = _list_models(server, predictor)
    assert refused.status_code == runs.status_code == listed.status_code == 403
    assert refused.json() == listed.json() | {"error": refused.json()["error"]}
    assert "no-such-model" not in refused.text


def test_the_right_roles_get_in(server: Plane) -> None:
    """The refusals above are about roles: the same calls pass with the right token."""
    assert _list_models(server, server.bearer("viewer")).status_code == 200
    listed = server.client.post(f"{RECORDS}/token/list", json={}, headers=server.bearer("admin"))
    assert listed.status_code == 200
    names = [t["name"] for t in listed.json()["result"]]
    assert any(name.startswith("developer-") for name in names)
    assert all(secret not in listed.text for secret in server.secrets.values())


def test_failed_checks_are_limited_audited_and_never_leak_the_token(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = len(ws.store.audit_log(action="token.rejected"))
    with plane(ws, FailureLimiter(max_failures=5, window_s=3600)) as server:
        tried = [
            server.secrets["revoked"],
            UNKNOWN,
            "cvy_" + "R" * 43,
            "not-a-token-at-all-" + "S" * 30,
            "cvy_" + "T" * 43,
        ]
        answers = [_list_models(server, {"authorization": f"Bearer {t}"}) for t in tried]
        assert [a.status_code for a in answers] == [401] * 5
        blocked = [
            _list_models(server, {"authorization": "Bearer cvy_" + "U" * 43}),
            _list_models(server, server.bearer("admin")),  # even a good token, while blocked
        ]
        assert [a.status_code for a in blocked] == [429, 429]
        assert blocked[1].json()["code"] == "too_many_attempts"
        assert int(blocked[1].headers["retry-after"]) >= 1
        assert server.client.get("/api/v1/health").status_code == 200  # health stays open
        bodies = " ".join(a.text for a in answers + blocked)
    rejected = ws.store.audit_log(action="token.rejected")[before:]
    assert len(rejected) == 5
    assert {e.details["client"] for e in rejected} == {"127.0.0.1"}
    assert sorted(e.details["reason"] for e in rejected) == [
        "malformed",
        "revoked",
        "unknown",
        "unknown",
        "unknown",
    ]
    recorded = repr(rejected) + repr(ws.store.audit_log())
    for secret in [*tried, *server.secrets.values(), "U" * 43]:
        assert secret not in recorded
        assert secret not in caplog.text
        assert secret not in bodies


def test_a_foreign_host_gets_400(server: Plane) -> None:
    for name in ("evil.example", "127.0.0.1.evil.example", "localhost:abc", "[::2]:80", ""):
        answer = server.client.get(
            "/api/v1/whoami", headers={**server.bearer("admin"), "host": name}
        )
        assert answer.status_code == 400, name
        assert answer.json()["code"] == "invalid_host"
    health = server.client.get("/api/v1/health", headers={"host": "evil.example"})
    assert health.status_code == 400
    ok = server.client.get(
        "/api/v1/whoami", headers={**server.bearer("admin"), "host": "localhost"}
    )
    assert ok.status_code == 200
    assert ok.json()["role"] == "admin"


def test_no_cors_header_is_sent(server: Plane) -> None:
    origin = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    preflight = server.client.options(f"{RECORDS}/model/list_models", headers=origin)
    assert preflight.status_code == 401
    answers = [
        preflight,
        _list_models(server, {**server.bearer("admin"), **origin}),
        server.client.get("/api/v1/health", headers=origin),
        server.client.get("/openapi.json", headers={**server.bearer("viewer"), **origin}),
    ]
    assert [a.status_code for a in answers[1:]] == [200, 200, 200]
    for answer in answers:
        assert not any(h.startswith("access-control-") for h in answer.headers)


def test_whoami_names_the_token_not_the_secret(server: Plane, tmp_path: Path) -> None:
    answer = server.client.get("/api/v1/whoami", headers=server.bearer("developer"))
    assert answer.status_code == 200
    assert answer.json()["role"] == "developer"
    assert answer.json()["name"].startswith("developer-")
    assert server.secrets["developer"] not in answer.text
