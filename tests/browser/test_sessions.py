"""The control plane's pages in a real browser: sign in and out with a token, the session
cookie, roles on the deployment actions, and forms posted from another site.

The server runs over a private copy of the demo's project with a canary rollout of
``recommender@3`` in progress in ``production`` (started again when a test rolled it back).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page
from screenshots import PageLog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from conveyor.rollout import Controller
from conveyor.ui import SESSION_COOKIE
from conveyor.workspace import Workspace
from server_support import ADMIN, Server, control_plane, serve_app
from ui_support import csrf_of, shop_copy

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]

OpenPage = Callable[[str], tuple[Page, PageLog]]
ENV = "production"
CANDIDATE = "recommender@3"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``conveyor server`` over a private copy of the demo's project."""
    folder = shop_copy(tmp_path_factory.mktemp("browser-shop"))
    with Workspace.open(folder, actor="tester") as ws, control_plane(ws) as plane:
        yield plane


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    """Secrets of a deployer, a viewer and a developer token."""
    return {
        "dora": server.token("dora", "deployer"),
        "vic": server.token("vic", "viewer"),
        "dev": server.token("dev", "developer"),
    }


@pytest.fixture
def canary(server: Server) -> int:
    """A canary of ``recommender@3`` in progress in production; its revision."""
    current = server.ws.deployments.current(ENV)
    if current is None or not current.in_progress:
        current = Controller(server.ws).deploy(
            CANDIDATE, ENV, force_reason="browser test: a canary to act on"
        )
    assert current.state == "progressing"
    assert current.strategy == "canary"
    return int(current.revision)


def sign_in(page: Page, log: PageLog, base: str, secret: str, *, next_path: str = "/") -> None:
    """Sign in on ``/login`` with ``secret``; the browser lands on ``next_path``."""
    page.goto(f"{base}/login?next={next_path}")
    page.fill("#token", secret)
    with page.expect_navigation(wait_until="load"):
        page.click("#sign-in")
    assert page.url == base + next_path, page.url
    assert not log.problems(), log.problems()


def session_cookie(context: BrowserContext) -> dict[str, object] | None:
    found = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    return dict(found[0]) if found else None


def history_len(server: Server) -> int:
    return len(server.ws.deployments.history(ENV))


def current_revision(server: Server) -> int | None:
    current = server.ws.deployments.current(ENV)
    return None if current is None else current.revision


def test_deployer_rolls_back_with_a_reason_and_is_the_actor(
    open_page: OpenPage, server: Server, tokens: dict[str, str], canary: int
) -> None:
    base = server.url
    page, log = open_page(base)
    sign_in(page, log, base, tokens["dora"], next_path=f"/deployments/{ENV}")
    assert "token:dora" in page.locator("header .viewer").inner_text()
    assert "in progress" in page.locator("#rollout-progress").inner_text().lower()
    reason = "checkout latency <b>doubled</b> on the canary"
    page.click("#action-rollback summary")
    page.fill("#action-rollback input[name='reason']", reason)
    with page.expect_navigation(wait_until="load") as navigation:
        page.click("#action-rollback button[type='submit']")
    assert navigation.value is not None
    assert navigation.value.status == 200
    assert page.url == f"{base}/deployments/{ENV}"
    assert not log.problems(), log.problems()

    newest = page.locator("#history-timeline li").first
    assert newest.get_attribute("data-action") == "rollback"
    assert newest.locator(".reason").inner_text().strip() == reason  # shown as text
    assert newest.locator(".actor").inner_text().strip() == "token:dora"
    transition = server.ws.deployments.history(ENV)[-1]
    assert transition.action == "rollback"
    assert transition.reason == reason
    assert transition.actor == "token:dora"
    assert transition.revision == canary + 1


def test_viewer_sees_no_rollback_and_cannot_post_one(
    open_page: OpenPage,
    context: BrowserContext,
    server: Server,
    tokens: dict[str, str],
    canary: int,
) -> None:
    base = server.url
    page, log = open_page(base)
    sign_in(page, log, base, tokens["vic"], next_path=f"/deployments/{ENV}")
    assert page.locator("#rollout-progress").count() == 1
    assert page.locator("#action-rollback").count() == 0
    assert page.locator("#actions button").count() == 0
    csrf = csrf_of(page.content())  # the sign-out form's: valid for this session
    before = history_len(server)
    answer = context.request.post(
        f"{base}/deployments/{ENV}/rollback",
        form={"csrf": csrf, "reason": "a viewer tries"},
        max_redirects=0,
    )
    assert answer.status == 403, answer.text()[:500]
    assert "rollback" in html.unescape(answer.text()).lower()
    assert history_len(server) == before
    assert current_revision(server) == canary


def test_sign_in_cookie_and_sign_out(
    open_page: OpenPage, context: BrowserContext, server: Server, tokens: dict[str, str]
) -> None:
    base = server.url
    page, log = open_page(base)

    # No session: the page sends the browser to sign in, and back afterwards.
    page.goto(f"{base}/runs")
    assert page.url == f"{base}/login?next=%2Fruns"

    # A wrong token: the error, and no session cookie.
    page.fill("#token", "cvy_not_a_real_token")
    page.click("#sign-in")
    page.wait_for_load_state("load")
    assert "not valid" in page.locator("[role='alert']").inner_text()
    assert session_cookie(context) is None
    assert log.problems(allow_status=(401,)) == []
    assert any(e.startswith("401 POST") for e in log.error_responses)

    # The right token lands on the page asked for, with a strict, script-proof cookie.
    log.clear()
    page.goto(f"{base}/runs")
    page.fill("#token", tokens["dev"])
    with page.expect_navigation(wait_until="load"):
        page.click("#sign-in")
    assert page.url == f"{base}/runs"
    assert not log.problems(), log.problems()
    cookie = session_cookie(context)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain http on loopback; Secure behind TLS
    assert page.evaluate("() => document.cookie").find(SESSION_COOKIE) == -1
    old = str(cookie["value"])
    with httpx.Client(base_url=base, follow_redirects=False) as client:
        assert client.get("/runs", headers={"cookie": f"{SESSION_COOKIE}={old}"}).status_code == 200

        # Sign out ends the session: the old cookie, replayed, opens nothing.
        with page.expect_navigation(wait_until="load"):
            page.click("#logout")
        assert page.url.startswith(f"{base}/login")
        assert session_cookie(context) is None
        replay = client.get("/runs", headers={"cookie": f"{SESSION_COOKIE}={old}"})
        assert replay.status_code == 303
        assert replay.headers["location"].startswith("/login")


def test_a_failed_sign_in_keeps_the_page_asked_for(
    open_page: OpenPage, server: Server, tokens: dict[str, str]
) -> None:
    base = server.url
    page, log = open_page(base)
    page.goto(f"{base}/monitoring")
    assert page.url == f"{base}/login?next=%2Fmonitoring"
    page.fill("#token", "cvy_mistyped")
    page.click("#sign-in")
    page.wait_for_load_state("load")
    assert "not valid" in page.locator("[role='alert']").inner_text()
    page.fill("#token", tokens["vic"])
    with page.expect_navigation(wait_until="load"):
        page.click("#sign-in")
    assert page.url == f"{base}/monitoring"
    assert log.problems(allow_status=(401,)) == []


def test_revoked_token_ends_its_session_at_once(
    open_page: OpenPage, context: BrowserContext, server: Server
) -> None:
    base = server.url
    secret = server.token("short-lived", "viewer")
    page, log = open_page(base)
    sign_in(page, log, base, secret, next_path="/audit")
    assert session_cookie(context) is not None
    server.tokens.revoke("short-lived", actor=ADMIN)
    page.reload()
    assert page.url == f"{base}/login?next=%2Faudit"


def _attacker_app(target: str) -> Starlette:
    """A page of another site that posts a rollback form to ``target`` as soon as it loads."""

    async def lure(request: Request) -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>win a prize</title>"
            f'<form id="f" method="post" action="{html.escape(target)}">'
            '<input type="hidden" name="csrf" value="guessed">'
            '<input type="hidden" name="reason" value="pwned"></form>'
            "<script>document.getElementById('f').submit()</script>"
        )

    return Starlette(routes=[Route("/", lure)])


@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "localhost"])
def test_forms_posted_from_another_origin_roll_nothing_back(
    open_page: OpenPage,
    context: BrowserContext,
    server: Server,
    tokens: dict[str, str],
    canary: int,
    attacker_host: str,
) -> None:
    base = server.url
    page, log = open_page(base)
    sign_in(page, log, base, tokens["dora"], next_path=f"/deployments/{ENV}")
    assert page.locator("#action-rollback").count() == 1
    before = history_len(server)
    target = f"{base}/deployments/{ENV}/rollback"
    with serve_app(_attacker_app(target)) as (served, _):
        # Another port is another origin (the cookie goes along: same site, so the CSRF
        # token refuses it); another host name is another site (SameSite=Strict keeps
        # the cookie home, so the post comes from nobody).
        evil = served.replace("127.0.0.1", attacker_host)
        with page.expect_response(target) as answer:
            page.goto(evil + "/")
        assert answer.value.status in (401, 403), answer.value.status
        page.wait_for_load_state("load")
    assert history_len(server) == before
    assert current_revision(server) == canary

    # From the server's own page but with a wrong token in the form: 403 too.
    wrong = context.request.post(target, form={"csrf": "wrong", "reason": "x"}, max_redirects=0)
    assert wrong.status == 403
    assert "security token" in wrong.text()
    assert history_len(server) == before
