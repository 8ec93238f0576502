"""Browser tests of the web UI: Debian's headless Chromium driven by playwright.

One Chromium per test process (``browser``), a fresh context (cookies, storage) per test,
and the pages served by a real uvicorn on 127.0.0.1. Every page a test opens through
``open_page`` records its console errors, script errors, failed requests and every URL it
asked for (:class:`screenshots.PageLog`). Without ``/usr/bin/chromium`` the tests fail
with a message saying ``make browser`` installs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from screenshots import VIEWPORT, PageLog, chromium_missing, launch

from conveyor.ui import create_ui_app
from conveyor.workspace import Workspace
from server_support import serve_app
from ui_support import demo_folder

OpenPage = Callable[[str], tuple[Page, PageLog]]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the tests of one module.

    Not longer: while playwright's sync API is open it runs an event loop in this
    thread, and any other test's ``asyncio.run()`` on the same worker would fail.
    """
    missing = chromium_missing()
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context (no cookies) for one test."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def open_page(context: BrowserContext) -> OpenPage:
    """``open_page(origin)``: a new page of this test's context and the log of what it does
    (every request must go to ``origin``)."""

    def opener(origin: str) -> tuple[Page, PageLog]:
        page = context.new_page()
        return page, PageLog(origin).attach(page)

    return opener


@pytest.fixture(scope="session")
def demo_ws() -> Iterator[Workspace]:
    """The demo's workspace (read only)."""
    with Workspace.open(demo_folder()) as ws:
        yield ws


@pytest.fixture(scope="session")
def demo_url(demo_ws: Workspace) -> Iterator[str]:
    """The local UI (``conveyor ui``) over the demo's workspace: its URL."""
    with serve_app(create_ui_app(demo_ws)) as (url, _):
        yield url
