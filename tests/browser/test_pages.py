"""Every page of the local UI in a real browser, on the demo's workspace: it loads with no
console or script error, no failed request and nothing asked of another host, and plotly
draws every chart. Hostile names and values show as text and run nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from screenshots import PageLog, shots_of, take_screenshots, wait_for_charts

from conveyor.ui import create_ui_app
from conveyor.workspace import Workspace
from server_support import serve_app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]

OpenPage = Callable[[str], tuple[Page, PageLog]]


def settle(page: Page, log: PageLog, what: str) -> int:
    """Wait for ``page``'s charts and its last requests; fail on anything ``log`` caught.
    The number of charts drawn."""
    charts = wait_for_charts(page)
    page.wait_for_load_state("networkidle")
    problems = log.problems()
    assert not problems, f"{what} ({page.url}): {problems}"
    return charts


def visit(page: Page, log: PageLog, url: str) -> int:
    """Open ``url`` (it must answer 200); the number of charts drawn."""
    log.clear()
    response = page.goto(url, wait_until="load")
    assert response is not None, url
    assert response.status == 200, f"{url} answered {response.status}"
    return settle(page, log, url)


def click(page: Page, log: PageLog, selector: str) -> int:
    """Click the link ``selector`` (the first match); the new page must answer 200."""
    log.clear()
    link = page.locator(selector).first
    href = link.get_attribute("href")
    with page.expect_navigation(wait_until="load") as navigation:
        link.click()
    response = navigation.value
    assert response is not None, selector
    assert response.status == 200, f"following {selector} ({href}) answered {response.status}"
    return settle(page, log, f"after clicking {selector} ({href})")


def test_every_page_loads_clean_and_draws_its_charts(
    open_page: OpenPage, demo_url: str, demo_ws: Workspace
) -> None:
    page, log = open_page(demo_url)
    ws = demo_ws
    current = ws.deployments.current("production")
    assert current is not None

    # The overview, and from it the environment, what it serves and its latest report.
    visit(page, log, demo_url + "/")
    assert page.locator("#env-production").count() == 1
    click(page, log, "#env-production h3 a")
    assert page.url == demo_url + "/deployments/production"
    assert page.locator("#history-timeline li").count() == len(ws.deployments.history("production"))
    assert click(page, log, "nav a[href='/']") == 0
    click(page, log, "#env-production a[href^='/models/']")
    assert re.search(r"/models/[^/]+/versions/\d+$", page.url), page.url
    assert visit(page, log, demo_url + "/") == 0
    click(page, log, "#env-production a[href^='/monitoring/reports/']")
    assert page.locator("#report").count() == 1

    # The runs table, a run from it, and every tab of the navigation.
    click(page, log, "nav a[href='/runs']")
    first = page.locator("#runs-table tbody tr a[href^='/runs/']").first
    run_id = (first.get_attribute("href") or "").rsplit("/", 1)[-1]
    click(page, log, "#runs-table tbody tr a[href^='/runs/']")
    assert page.locator("#run-id").inner_text().strip() == ws.runs.get(run_id).id

    click(page, log, "nav a[href='/datasets']")
    dataset = ws.datasets.list()[0]
    click(page, log, f"main a[href='/datasets/{dataset.name}']")
    assert dataset.name in page.locator("main h1").first.inner_text()
    click(page, log, f"main a[href^='/datasets/{dataset.name}/versions/']")
    assert re.search(rf"/datasets/{dataset.name}/versions/\d+$", page.url), page.url

    click(page, log, "nav a[href='/models']")
    model = ws.models.list()[0]
    click(page, log, f"#models-table a[href='/models/{model.name}']")
    assert page.locator("#model-name").inner_text().strip() == model.name
    click(
        page, log, f"#versions-table a[href='/models/{model.name}/versions/{model.latest_version}']"
    )
    assert f"{model.name}@{model.latest_version}" in page.locator("#version-ref").inner_text()

    click(page, log, "nav a[href='/deployments']")
    assert page.locator("#env-production").count() == 1
    click(page, log, "nav a[href='/monitoring']")
    click(page, log, "#reports-table a[href^='/monitoring/reports/']")
    assert page.locator("#report").count() == 1

    click(page, log, "nav a[href='/features']")
    click(page, log, "a[href='/features/user_profile']")
    assert "user_segment" in page.content()

    click(page, log, "nav a[href='/audit']")
    assert page.locator("#audit-table tr").count() > 1
    click(page, log, "#verify-link")
    assert "intact" in page.locator("#verification").inner_text()

    # The pages with charts, opened by address: each draws them all.
    for shot in shots_of(ws):
        drawn = visit(page, log, demo_url + shot.path)
        if shot.name in {"deployment", "monitoring", "monitoring-report", "compare"}:
            assert drawn > 0, f"{shot.path} has no chart"


def test_compare_ticked_runs_draws_two_traces_per_metric(
    open_page: OpenPage, demo_url: str, demo_ws: Workspace
) -> None:
    page, log = open_page(demo_url)
    visit(page, log, demo_url + "/runs")
    page.select_option("#filter-kind", "pipeline")
    with page.expect_navigation(wait_until="load"):
        page.click("#filter-apply")
    settle(page, log, "/runs?kind=pipeline")
    boxes = page.locator("#runs-table tbody input[name='ids']")
    assert boxes.count() >= 2
    ids = [boxes.nth(i).get_attribute("value") for i in (0, 1)]
    boxes.nth(0).check()
    boxes.nth(1).check()
    log.clear()
    with page.expect_navigation(wait_until="load") as navigation:
        page.click("#compare-submit")
    assert navigation.value is not None
    assert navigation.value.status == 200
    assert "/runs/compare?" in page.url
    settle(page, log, "compare")
    for run_id in ids:
        assert page.locator(f"#compare-run-{run_id}").count() == 1
    traces = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll(
            "[data-figure][id^='compare-chart-']")).map(el => [el.id, el.data.length]))"""
    )
    assert traces, "the compare page drew no metric chart"
    assert set(traces.values()) == {2}, traces
    # A chart per metric of the table (whose values come from the records).
    keys = page.locator("#compare-metrics tbody tr[data-key]").evaluate_all(
        "rows => rows.map(row => row.getAttribute('data-key'))"
    )
    assert {name.removeprefix("compare-chart-") for name in traces} <= set(keys)


HOSTILE_COLUMN = "<img src=x onerror=window.__xss=1>"
HOSTILE_RUN = "<script>window.__xss=1</script>"


def test_hostile_names_show_as_text_and_run_nothing(open_page: OpenPage, tmp_path: Path) -> None:
    (tmp_path / "conveyor.yaml").write_text("project: {name: hostile}\n", encoding="utf-8")
    csv = tmp_path / "rows.csv"
    csv.write_text(f"a,{HOSTILE_COLUMN}\n1,2\n3,4\n", encoding="utf-8")
    with Workspace.open(tmp_path, actor="tester") as ws:
        ws.datasets.add("hostile", csv, message=HOSTILE_RUN)
        run = ws.runs.start_run(HOSTILE_RUN, kind="pipeline", params={"p": HOSTILE_RUN})
        ws.runs.log_metric(run.id, "loss", 0.5, step=0)
        ws.runs.log_metric(run.id, "loss", 0.25, step=1)
        ws.runs.finish_run(run.id, "completed")
        with serve_app(create_ui_app(ws)) as (url, _):
            page, log = open_page(url)
            for path in (
                "/datasets",
                "/datasets/hostile",
                "/datasets/hostile/versions/1",
                "/audit",
                "/runs",
                f"/runs/{run.id}",
            ):
                visit(page, log, url + path)
                text = page.locator("main").inner_text()
                assert page.evaluate("() => window.__xss") is None, path
                assert page.locator("main img").count() == 0, path
                assert page.locator("main script:not([type='application/json'])").count() == 0
                if path == "/datasets/hostile":
                    assert HOSTILE_RUN in text  # the version's message
                if path == "/datasets/hostile/versions/1":
                    assert HOSTILE_COLUMN in text
                if path.startswith("/runs"):
                    assert HOSTILE_RUN in text, path
            assert page.locator("#run-title").inner_text().startswith(HOSTILE_RUN)
            assert HOSTILE_RUN in page.locator("#run-params").inner_text()
            assert not log.dialogs


def test_screenshots_are_taken_of_drawn_pages(
    browser: Browser, demo_url: str, demo_ws: Workspace, tmp_path: Path
) -> None:
    wanted = [s for s in shots_of(demo_ws) if s.name in {"overview", "deployment"}]
    written = take_screenshots(browser, demo_url, wanted, tmp_path)
    assert [p.name for p in written] == ["overview.png", "deployment.png"]
    assert all(not problems for problems in written.values()), written
    for path in written:
        head = path.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert (width, height) == (1400, 900)
