"""The web UI's frame on the demo's workspace: the overview, the audit pages, forms and
CSRF, the local UI's host check, and ``conveyor demo --keep-serving`` printing its address."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from starlette.responses import PlainTextResponse, Response

from conveyor.automation import BaseAutomationRecords, SqlAutomationRecords
from conveyor.monitoring import BaseMonitoringRecords, SqlMonitoringRecords
from conveyor.ui import PageRequest, build_ui
from conveyor.workspace import Workspace, init_project
from server_support import serve_app
from ui_support import csrf_of, demo_folder, local_ui, played, shop_copy

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]


@pytest.fixture(scope="module")
def demo_ws() -> Workspace:
    return Workspace.open(demo_folder())


def text_of(html: str) -> str:
    """The page's text, tags removed and whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_demo_with_keep_serving_prints_the_web_ui_address_and_it_answers() -> None:
    demo_folder()
    out = played["stdout"]
    assert re.search(r"Follow the story in the web UI: http://127\.0\.0\.1:\d+/", out), out[-2000:]
    assert played["ui_status"] == "200"
    overview = text_of(played["ui_overview"])
    assert "production" in overview
    assert "recommender@" in overview


def test_overview_shows_what_serves_the_latest_verdict_and_the_agent(demo_ws: Workspace) -> None:
    current = demo_ws.deployments.current("production")
    assert current is not None
    report = demo_ws.records(BaseMonitoringRecords, SqlMonitoringRecords).reports(
        "production", limit=1
    )[-1]
    newest = demo_ws.records(BaseAutomationRecords, SqlAutomationRecords).events(limit=1)[-1]
    with local_ui(demo_ws) as client:
        answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-frame-options"] == "DENY"
    page = text_of(answer.text)
    assert f"revision {current.revision}" in page
    assert current.state in page
    for variant in current.live:
        assert f"{variant.model}@{variant.version}" in page
    assert f"report {report.id}" in page
    assert report.verdict in page
    assert newest.reason in page
    last = demo_ws.audit_log(limit=1)[-1]
    assert f"{last.seq} " in page


def test_audit_page_filters_pages_back_and_verifies(demo_ws: Workspace) -> None:
    events = demo_ws.audit_log()
    actions = {e.action for e in events}
    assert "deploy.rollback" in actions
    with local_ui(demo_ws) as client:
        everything = client.get("/audit")
        assert everything.status_code == 200
        rows = re.findall(r'<td class="num">(\d+)</td>', everything.text)
        assert [int(r) for r in rows] == [e.seq for e in reversed(events)][:100]
        if len(events) > 100:
            older = re.search(r'href="(/audit\?before=\d+)"', everything.text)
            assert older is not None
            second = client.get(older.group(1).replace("&amp;", "&"))
            seqs = [int(r) for r in re.findall(r'<td class="num">(\d+)</td>', second.text)]
            assert seqs
            assert max(seqs) < min(int(r) for r in rows)
        filtered = client.get("/audit", params={"action": "deploy.rollback"})
        shown = set(re.findall(r"action=([a-z_.]+)", filtered.text))
        assert shown == {"deploy.rollback"}
        verified = client.get("/audit/verify")
        assert "intact" in verified.text
        assert f"All {len(events)} events check out" in text_of(verified.text)
        bad = client.get("/audit", params={"action": "<script>"})
        assert bad.status_code == 400
        assert "&lt;script&gt;" in bad.text
        assert "<script>" not in bad.text.split("<main>", 1)[1]
        assert client.get("/audit", params={"before": "-5"}).status_code == 400


def test_audit_verify_page_reports_a_tampered_event(tmp_path: Path) -> None:
    root = shop_copy(tmp_path)
    with sqlite3.connect(root / ".conveyor" / "conveyor.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    with Workspace.open(root) as ws, local_ui(ws) as client:
        page = text_of(client.get("/audit/verify").text)
    assert "broken at event #3" in page


def test_forms_need_the_csrf_token_and_readable_bodies(demo_ws: Workspace) -> None:
    """The frame checks every POST before a page's handler runs."""
    ui = build_ui(demo_ws)
    seen: list[dict[str, str]] = []

    @ui.page("/echo", name="echo", method="POST")
    def echo(page: PageRequest) -> Response:
        seen.append(dict(page.form))
        return PlainTextResponse(page.field("reason", required=True) or "")

    from starlette.applications import Starlette

    app = Starlette()
    ui.install(app)
    with serve_app(app) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        token = csrf_of(client.get("/audit").text)
        ok = client.post("/echo", data={"csrf": token, "reason": "why <not>"})
        assert (ok.status_code, ok.text) == (200, "why <not>")
        assert client.post("/echo", data={"reason": "x"}).status_code == 403
        assert client.post("/echo", data={"csrf": "forged", "reason": "x"}).status_code == 403
        missing = client.post("/echo", data={"csrf": token})
        assert missing.status_code == 400
        assert "reason" in missing.text
        raw = {"content-type": "application/x-www-form-urlencoded"}
        garbled = client.post("/echo", content=b"csrf=\xff\xfe&reason=x", headers=raw)
        assert garbled.status_code == 400
        assert "UTF-8" in garbled.text
        huge = client.post("/echo", content=b"reason=" + b"a" * 70_000, headers=raw)
        assert huge.status_code == 400
        assert "70007 bytes" in huge.text
        assert client.get("/audit").status_code == 200  # still serving
    assert seen == [{"csrf": token, "reason": "why <not>"}, {"csrf": token}]


def test_the_local_ui_answers_only_for_loopback_names(demo_ws: Workspace) -> None:
    with local_ui(demo_ws) as client:
        rebound = client.get("/", headers={"host": "attacker.example"})
        assert rebound.status_code == 400
        assert rebound.json()["code"] == "invalid_host"
        assert client.get("/", headers={"host": "localhost:8766"}).status_code == 200
        plotly = client.get("/static/plotly.min.js", headers={"accept-encoding": "gzip"})
        assert plotly.status_code == 200
        assert plotly.headers["content-encoding"] == "gzip"
        assert b"plotly" in plotly.content[:2000].lower()
        again = client.get(
            "/static/plotly.min.js", headers={"if-none-match": plotly.headers["etag"]}
        )
        assert again.status_code == 304
        assert client.get("/static/..%2Fconveyor.yaml").status_code == 404
        assert client.get("/static/_core.py").status_code == 404


def test_pages_of_an_empty_workspace_render(tmp_path: Path) -> None:
    init_project(tmp_path / "empty", name="empty")
    with Workspace.open(tmp_path / "empty") as ws, local_ui(ws) as client:
        for path in ("/", "/audit", "/audit/verify"):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text[:500])
        overview = client.get("/").text
        assert "Nothing deployed yet" in overview or "No environments" in overview
        assert "No monitoring report yet" in overview or "No environments" in overview
