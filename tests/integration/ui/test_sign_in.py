"""Signing in to the control plane's web UI with a token: the session cookie, sign-out,
revocation, expiry, safe redirects, and what is (and is not) stored and audited."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conveyor.security import Sessions, SqlTokenRecords, Tokens
from conveyor.ui import SESSION_COOKIE
from conveyor.workspace import Workspace, init_project
from server_support import ADMIN, Server, control_plane


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    init_project(tmp_path / "team", name="team")
    with Workspace.open(tmp_path / "team") as ws, control_plane(ws) as running:
        yield running


def sign_in(client: httpx.Client, secret: str, next_path: str = "/") -> httpx.Response:
    form = client.get("/login", params={"next": next_path})
    assert form.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    chosen = re.search(r'name="next" value="([^"]*)"', form.text)
    assert csrf is not None
    assert chosen is not None
    return client.post(
        "/login", data={"csrf": csrf.group(1), "token": secret, "next": chosen.group(1)}
    )


def test_a_page_without_a_session_sends_the_browser_to_sign_in(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.get("/audit", params={"action": "ui.login"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Faudit%3Faction%3Dui.login"
        assert client.get("/api/v1/whoami").status_code == 401  # the API still needs a token


def test_sign_in_sets_a_strict_http_only_session_and_lands_on_next(server: Server) -> None:
    secret = server.token("alice", "viewer")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = sign_in(client, secret, "/audit?action=ui.login")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/audit?action=ui.login"
        cookie = next(
            h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
        )
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert "path=/" in flags
        assert "secure" not in flags  # plain http on loopback; set behind TLS
        page = client.get("/audit", params={"action": "ui.login"})
        assert page.status_code == 200
        assert "token:alice" in page.text
        assert "ui.login" in page.text
    value = cookie.split(";")[0].split("=", 1)[1]
    database = (Path(server.ws.root) / ".conveyor" / "conveyor.db").read_bytes()
    assert value.encode() not in database  # only its hash is kept
    assert secret.encode() not in database
    logins = server.ws.audit_log(action="ui.login")
    assert [e.actor for e in logins] == ["token:alice"]
    assert value not in str(logins[0].details)


def test_a_wrong_token_gets_no_session_and_a_clear_message(server: Server) -> None:
    server.token("alice", "viewer")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = sign_in(client, "cvt_" + "x" * 43)
        assert answer.status_code == 401
        assert "not valid" in answer.text
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
        assert client.get("/").status_code == 303


def test_a_failed_sign_in_keeps_the_page_asked_for(server: Server) -> None:
    secret = server.token("alice", "viewer")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        failed = sign_in(client, "cvt_" + "y" * 43, "/audit?action=ui.login")
        assert failed.status_code == 401
        kept = re.search(r'name="next" value="([^"]*)"', failed.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', failed.text)
        assert kept is not None
        assert csrf is not None
        assert kept.group(1) == "/audit?action=ui.login"
        again = client.post(
            "/login", data={"csrf": csrf.group(1), "token": secret, "next": kept.group(1)}
        )
        assert (again.status_code, again.headers["location"]) == (303, "/audit?action=ui.login")


def test_sign_in_without_its_form_token_is_refused(server: Server) -> None:
    secret = server.token("alice", "viewer")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        forged = client.post("/login", data={"csrf": "guess", "token": secret, "next": "/"})
        assert forged.status_code == 403
        assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "target",
    ["//attacker.example/x", "https://attacker.example/", "/\\attacker.example", "javascript:1"],
)
def test_next_never_leaves_the_server(server: Server, target: str) -> None:
    secret = server.token("alice", "viewer")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = sign_in(client, secret, target)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"


def test_sign_out_ends_the_session_even_for_a_replayed_cookie(server: Server) -> None:
    secret = server.token("alice", "viewer")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sign_in(client, secret)
        value = client.cookies[SESSION_COOKIE]
        page = client.get("/")
        csrf = re.search(r'<meta name="csrf" content="([^"]+)"', page.text)
        assert csrf is not None
        assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
        out = client.post("/logout", data={"csrf": csrf.group(1)})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
    with httpx.Client(base_url=server.url, timeout=30, cookies={SESSION_COOKIE: value}) as replay:
        assert replay.get("/").status_code == 303
    assert [e.actor for e in server.ws.audit_log(action="ui.logout")] == ["token:alice"]


def test_revoking_the_token_ends_its_sessions_at_once(server: Server) -> None:
    secret = server.token("alice", "viewer")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sign_in(client, secret)
        assert client.get("/").status_code == 200
        server.tokens.revoke("alice", actor=ADMIN)
        assert client.get("/").status_code == 303


def test_sessions_expire_and_never_outlive_their_token(tmp_path: Path) -> None:
    init_project(tmp_path / "p", name="p")
    now = [datetime(2026, 12, 7, 8, 0, tzinfo=UTC)]
    with Workspace.open(tmp_path / "p") as ws:
        tokens = Tokens(SqlTokenRecords(ws.store), clock=lambda: now[0])
        sessions = Sessions(tokens, lifetime=timedelta(hours=12), clock=lambda: now[0])
        short, _ = tokens.create("short", "viewer", expires=timedelta(hours=1), actor=ADMIN)
        long, _ = tokens.create("long", "viewer", actor=ADMIN)
        short_cookie, opened = sessions.open(short)
        assert opened.expires_at == now[0] + timedelta(hours=1)
        long_cookie, _ = sessions.open(long)
        assert sessions.find(long_cookie) is not None
        now[0] += timedelta(hours=2)
        assert sessions.find(short_cookie) is None  # the token expired
        assert sessions.find(long_cookie) is not None
        now[0] += timedelta(hours=11)
        assert sessions.find(long_cookie) is None  # the session expired
        for hostile in (None, "", "x" * 5000, "ä" * 50, 42, "../" * 20):
            assert sessions.find(hostile) is None
        assert sessions.close("never-issued-" + "a" * 40) is False
        # expired rows are swept when the next session opens
        sessions.open(long)
        db = sqlite3.connect(Path(ws.root) / ".conveyor" / "conveyor.db")
        try:
            (rows,) = db.execute("SELECT COUNT(*) FROM ui_sessions").fetchone()
        finally:
            db.close()
        assert rows == 1
