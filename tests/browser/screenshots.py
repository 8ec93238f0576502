"""Screenshots of the web UI's main pages, and the browser plumbing the browser tests share.

Usage::

    .venv/bin/python tests/browser/screenshots.py docs/ui            # plays `conveyor demo --fast`
    .venv/bin/python tests/browser/screenshots.py docs/ui --project /path/to/shop

It serves the local UI (``conveyor ui``'s application) over the project on 127.0.0.1,
opens each main page in Debian's headless Chromium (``/usr/bin/chromium``; ``make browser``
installs it), waits until every chart is drawn, checks the page logged no error and asked
nothing of another host, and saves a 1400x900 PNG per page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        ConsoleMessage,
        Page,
        Playwright,
        Request,
        Response,
        ViewportSize,
    )

    from conveyor.workspace import Workspace

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "VIEWPORT",
    "PageLog",
    "Shot",
    "chromium_missing",
    "launch",
    "main",
    "shots_of",
    "take_screenshots",
    "wait_for_charts",
]

#: Debian's Chromium (``make browser`` installs it); never a browser playwright downloads.
CHROMIUM = Path("/usr/bin/chromium")
#: Headless, offline: no background traffic, no updates, no sync, no QUIC.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}


def chromium_missing() -> str | None:
    """Why the browser cannot start (``None`` when Chromium is installed)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    return (
        f"Chromium is not installed at {CHROMIUM}: the browser tests drive Debian's headless "
        "Chromium. Run `make browser` (it installs the `chromium` package with apt-get)."
    )


def launch(playwright: Playwright) -> Browser:
    """Debian's headless Chromium, offline.

    Raises:
        RuntimeError: Chromium is not installed (the message says how to install it).
    """
    missing = chromium_missing()
    if missing is not None:
        raise RuntimeError(missing)
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True, env=short_tmp()
    )


def short_tmp() -> dict[str, str]:
    """The environment for Chromium with a short ``TMPDIR``: its singleton socket lives
    there, and a Unix socket path (such as one under pytest's tmp_path) may not exceed
    107 bytes."""
    return {**os.environ, "TMPDIR": "/tmp" if Path("/tmp").is_dir() else tempfile.gettempdir()}


@dataclass
class PageLog:
    """What a page did: console errors, script errors, failed requests, every URL it asked
    for and every dialog it opened.

    Attributes:
        origin: ``http://127.0.0.1:PORT``: every request must go there.
    """

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error_responses: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> PageLog:
        """Record what ``page`` does from now on; this log."""
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("requestfailed", self._failed)
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("response", self._response)
        page.on("dialog", self._dialog)
        return self

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def _failed(self, request: Request) -> None:
        self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.error_responses.append(
                f"{response.status} {response.request.method} {response.url}"
            )

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def foreign(self) -> list[str]:
        """Requests to anything but ``origin`` (another host, port or scheme)."""
        prefix = self.origin.rstrip("/") + "/"
        return [url for url in self.requests if not url.startswith(prefix)]

    def problems(self, *, allow_status: Sequence[int] = ()) -> list[str]:
        """Everything that went wrong (empty when the page was clean); responses with a
        status in ``allow_status`` (and the browser's console line about them) are fine."""
        expected = tuple(f"status of {status} " for status in allow_status)
        found = [
            f"console error: {e}"
            for e in self.console_errors
            if not (
                expected
                and e.startswith("Failed to load resource")
                and any(s in e for s in expected)
            )
        ]
        found += [f"script error: {e}" for e in self.page_errors]
        found += [f"request failed: {e}" for e in self.failed]
        found += [
            f"error response: {e}"
            for e in self.error_responses
            if int(e.split(" ", 1)[0]) not in allow_status
        ]
        found += [f"request left {self.origin}: {url}" for url in self.foreign()]
        found += [f"dialog opened: {d}" for d in self.dialogs]
        return found

    def clear(self) -> None:
        """Forget what was recorded (the next page starts clean)."""
        for name in (
            "console_errors",
            "page_errors",
            "failed",
            "error_responses",
            "requests",
            "dialogs",
        ):
            getattr(self, name).clear()


def wait_for_charts(page: Page, *, timeout_ms: float = 15_000) -> int:
    """Wait until plotly drew every chart of ``page`` (``data-drawn="true"`` and an svg);
    the number of charts.

    Raises:
        AssertionError: a chart was not drawn in time (its id is named).
    """
    count = page.locator("[data-figure]").count()
    if count == 0:
        return 0
    try:
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll('[data-figure]')).every(
                el => el.getAttribute('data-drawn') === 'true' && el.querySelector('svg'))""",
            timeout=timeout_ms,
        )
    except Exception as exc:  # playwright's TimeoutError
        undrawn = page.evaluate(
            """() => Array.from(document.querySelectorAll('[data-figure]'))
                .filter(el => el.getAttribute('data-drawn') !== 'true' || !el.querySelector('svg'))
                .map(el => el.id)"""
        )
        raise AssertionError(
            f"{page.url}: charts {undrawn} were not drawn within {timeout_ms / 1000:g} s "
            f'(no data-drawn="true" or no svg inside): {exc}'
        ) from None
    return count


@dataclass(frozen=True)
class Shot:
    """One screenshot: the file name (without ``.png``), the page's path and the element
    scrolled to the top first (``None``: the top of the page)."""

    name: str
    path: str
    anchor: str | None = None


def _seg(value: object) -> str:
    return urllib.parse.quote(str(value), safe="")


def shots_of(ws: Workspace) -> list[Shot]:
    """The main pages of ``ws`` worth a screenshot, with real records in their paths."""
    from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords

    shots = [Shot("overview", "/")]
    datasets = ws.datasets.list()
    if datasets:
        name = datasets[0].name
        shots.append(Shot("datasets", "/datasets"))
        shots.append(
            Shot("dataset-version", f"/datasets/{_seg(name)}/versions/{datasets[0].latest_version}")
        )
    shots.append(Shot("runs", "/runs"))
    pipelines = [r for r in ws.runs.list(kind="pipeline", limit=50) if r.status == "completed"]
    tops = pipelines + ws.runs.list(kind="tune", limit=50)
    # The run to show: one whose metrics have a history (so its page draws charts).
    charted = [r for r in tops if any(len(p) > 1 for p in ws.runs.run_tree_history(r.id).values())]
    if charted or tops:
        shots.append(Shot("run", f"/runs/{_seg((charted or tops)[0].id)}"))
    if len(pipelines) >= 2:
        query = urllib.parse.urlencode([("ids", pipelines[0].id), ("ids", pipelines[1].id)])
        shots.append(Shot("compare", f"/runs/compare?{query}", "#compare-charts"))
    shots.append(Shot("models", "/models"))
    models = ws.models.list()
    if models:
        model = models[0]
        version = model.aliases.get("champion", model.latest_version)
        shots.append(Shot("model-version", f"/models/{_seg(model.name)}/versions/{version}"))
    shots.append(Shot("deployments", "/deployments"))
    for env in ws.settings.config.environments:
        shots.append(Shot("deployment", f"/deployments/{_seg(env)}", "#analysis"))
        break
    shots.append(Shot("monitoring", "/monitoring"))
    records = ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
    reports = records.reports(None, limit=1)
    if reports:
        shots.append(Shot("monitoring-report", f"/monitoring/reports/{reports[-1].id}"))
    shots.append(Shot("features", "/features"))
    shots.append(Shot("audit", "/audit"))
    return shots


def take_screenshots(
    browser: Browser, base_url: str, shots: Sequence[Shot], out_dir: Path
) -> dict[Path, list[str]]:
    """Open each page of ``shots`` and save a 1400x900 PNG of it in ``out_dir``.

    Returns:
        Each PNG written, with what went wrong on its page (console or script errors,
        failed requests, requests to another host; empty when the page was clean).

    Raises:
        AssertionError: a page answered an error status, or a chart was not drawn.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[Path, list[str]] = {}
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    try:
        page = context.new_page()
        log = PageLog(base_url).attach(page)
        for shot in shots:
            log.clear()
            response = page.goto(base_url + shot.path, wait_until="load")
            status = response.status if response is not None else 0
            assert status == 200, f"{shot.path} answered {status}"
            wait_for_charts(page)
            page.wait_for_load_state("networkidle")
            if shot.anchor is not None and page.locator(shot.anchor).count():
                page.eval_on_selector(shot.anchor, "el => el.scrollIntoView({block: 'start'})")
            target = out_dir / f"{shot.name}.png"
            page.screenshot(path=str(target), full_page=False, animations="disabled")
            written[target] = log.problems()
    finally:
        context.close()
    return written


@contextmanager
def _project(folder: str | None) -> Iterator[Path]:
    if folder:
        yield Path(folder)
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-ui-shots-") as root:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        print("playing `conveyor demo --fast` (about a minute) ...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "conveyor", "demo", "--fast", "--dir", f"{root}/demo"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield Path(root) / "demo" / "shop"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the screenshots; the exit status."""
    parser = argparse.ArgumentParser(description="Screenshots of conveyor's web UI.")
    parser.add_argument("out_dir", type=Path, help="where the PNGs go (e.g. docs/ui)")
    parser.add_argument("--project", help="a project folder (default: play the demo)")
    args = parser.parse_args(argv)
    missing = chromium_missing()
    if missing is not None:
        print(missing, file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from playwright.sync_api import sync_playwright

    from conveyor.ui import create_ui_app
    from conveyor.workspace import Workspace
    from server_support import serve_app

    with (
        _project(args.project) as folder,
        Workspace.open(folder) as ws,
        serve_app(create_ui_app(ws)) as (url, _),
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        try:
            written = take_screenshots(browser, url, shots_of(ws), args.out_dir)
        finally:
            browser.close()
    clean = True
    for path, problems in written.items():
        print(path)
        for problem in problems:
            clean = False
            print(f"  {problem}", file=sys.stderr)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
