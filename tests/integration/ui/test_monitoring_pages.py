"""The monitoring pages: drift per feature over time, verdicts, performance with its
interval, open alerts, and one report with a feature's reference vs window histogram."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from conveyor.monitoring import BaseMonitoringRecords, MonitoringReport, SqlMonitoringRecords
from conveyor.testing.records._monitoring import report_fields
from conveyor.workspace import Workspace, init_project
from ui_support import demo_folder, local_ui

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui")]


def _figure(page: str, chart_id: str) -> dict[str, Any]:
    match = re.search(
        rf'<script type="application/json" id="{re.escape(chart_id)}-data">(.*?)</script>',
        page,
        re.S,
    )
    assert match, f"no chart {chart_id!r} on the page"
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return Workspace.open(demo_folder())


def _reports(ws: Workspace) -> list[MonitoringReport]:
    return ws.records(BaseMonitoringRecords, SqlMonitoringRecords).reports(None, limit=200)


def _drift_report(reports: list[MonitoringReport]) -> MonitoringReport:
    """The demo's report of the season's drift (features flagged as drifted)."""
    return next(r for r in reversed(reports) if r.drift.get("drifted"))


def test_the_demo_reports_appear_with_their_verdicts(demo: Workspace) -> None:
    reports = _reports(demo)
    assert reports
    with local_ui(demo) as client:
        page = client.get("/monitoring")
    assert page.status_code == 200
    text = page.text
    for report in reports:
        assert f'id="report-{report.id}"' in text
        assert f'href="/monitoring/reports/{report.id}"' in text
        assert f"status-{report.verdict}" in text
        assert str(escape(report.message)) in text
    # The table lists the newest first.
    shown = [int(n) for n in re.findall(r'<tr id="report-(\d+)"', text)]
    assert shown == sorted((r.id for r in reports), reverse=True)


def test_the_heatmap_has_a_row_per_report_and_marks_the_drifted_features(
    demo: Workspace,
) -> None:
    reports = _reports(demo)
    drifted = _drift_report(reports)
    with local_ui(demo) as client:
        figure = _figure(client.get("/monitoring").text, "drift-heatmap")
    trace = figure["data"][0]
    assert trace["type"] == "heatmap"
    assert len(trace["z"]) == len(reports) == len(trace["y"])
    assert figure["reports"] == [r.id for r in reports]
    row = figure["reports"].index(drifted.id)
    marked = {name for name, mark in zip(trace["x"], trace["text"][row], strict=True) if mark}
    assert marked == set(drifted.drift["drifted"])
    assert marked
    # A drifted cell lies past its threshold (> 0), a calm one before it.
    for name, strength in zip(trace["x"], trace["z"][row], strict=True):
        assert (strength > 0) == (name in marked)


def test_performance_and_alerts(demo: Workspace) -> None:
    reports = _reports(demo)
    labelled = [r for r in reports if r.performance.get("value") is not None]
    alerts = demo.records(BaseMonitoringRecords, SqlMonitoringRecords).open_alerts()
    with local_ui(demo) as client:
        text = client.get("/monitoring").text
    figure = _figure(text, "performance-chart")
    trace = figure["data"][0]
    assert trace["y"] == [r.performance["value"] for r in labelled]
    for report, low, high in zip(
        labelled, trace["error_y"]["arrayminus"], trace["error_y"]["array"], strict=True
    ):
        lo, hi = report.performance["ci"]
        assert report.performance["value"] - low == pytest.approx(lo)
        assert report.performance["value"] + high == pytest.approx(hi)
    assert 'id="alerts"' in text
    for alert in alerts:
        assert f'id="alert-{alert.id}"' in text
        assert str(escape(alert.incident_key)) in text


def test_filters_by_environment_and_model(demo: Workspace) -> None:
    reports = _reports(demo)
    env, model = reports[-1].environment, reports[-1].model
    with local_ui(demo) as client:
        same = client.get("/monitoring", params={"env": env, "model": model}).text
        assert f'id="report-{reports[-1].id}"' in same
        shown = [int(n) for n in re.findall(r'<tr id="report-(\d+)"', same)]
        assert shown == [
            r.id for r in reversed(reports) if (r.environment, r.model) == (env, model)
        ]
        other = client.get("/monitoring", params={"env": "staging-nowhere"})
        assert other.status_code == 200
        assert 'id="report-' not in other.text
        assert 'id="reports-empty"' in other.text
        no_model = client.get("/monitoring", params={"model": "nobody"}).text
        assert 'id="report-' not in no_model


def test_one_report_shows_every_feature_and_a_histogram(demo: Workspace) -> None:
    report = _drift_report(_reports(demo))
    features = report.drift["features"]
    with local_ui(demo) as client:
        page = client.get(f"/monitoring/reports/{report.id}")
        assert page.status_code == 200
        text = page.text
        for name, result in features.items():
            assert f'data-feature="{escape(name)}"' in text
            assert result["test"] in text
        # By default the histogram of a drifted feature is shown.
        default = _figure(text, "feature-histogram")
        assert default["data"][0]["name"] == "reference"
        numeric = next(n for n, r in features.items() if r.get("kind") == "numeric")
        chosen = client.get(f"/monitoring/reports/{report.id}", params={"feature": numeric})
        figure = _figure(chosen.text, "feature-histogram")
        overlay = features[numeric]["overlay"]
        reference, window = figure["data"]
        assert reference["y"] == overlay["reference"]
        assert window["y"] == overlay["window"]
        assert len(reference["x"]) == len(overlay["reference"])
        # The link from the table resolves.
        link = re.search(r'href="(/monitoring/reports/\d+\?feature=[^"#]+)', text)
        assert link
        assert client.get(link.group(1).replace("&amp;", "&")).status_code == 200


def test_bad_parameters_answer_error_pages(demo: Workspace) -> None:
    newest = _reports(demo)[-1]
    with local_ui(demo) as client:
        hostile = client.get("/monitoring", params={"env": "<script>"})
        assert hostile.status_code == 400
        assert "&lt;script&gt;" in hostile.text
        assert "<script>" not in hostile.text.split("<main>")[1].split("</main>")[0]
        bad_model = client.get("/monitoring", params={"model": "a b"})
        assert bad_model.status_code == 400
        assert "&#39;a b&#39;" in bad_model.text
        word = client.get("/monitoring/reports/abc")
        assert word.status_code == 404
        assert "&#39;abc&#39;" in word.text
        missing = client.get(f"/monitoring/reports/{newest.id + 100}")
        assert missing.status_code == 404
        assert f"#{newest.id + 100}" in missing.text
        assert f"#{newest.id}" in missing.text
        feature = client.get(f"/monitoring/reports/{newest.id}", params={"feature": "<b>x"})
        assert feature.status_code == 404
        assert "&lt;b&gt;x" in feature.text


def test_new_reports_show_at_once_and_any_report_opens_by_id(tmp_path: Path) -> None:
    """Nothing is kept between requests: a report stored after a view is on the next one."""
    init_project(tmp_path / "fresh", name="fresh")
    ws = Workspace.open(tmp_path / "fresh")
    records = ws.records(BaseMonitoringRecords, SqlMonitoringRecords)
    drift = {
        "features": {
            "<b>age</b>": {
                "test": "ks",
                "statistic": "p_value",
                "score": 0.001,
                "threshold": 0.01,
                "drifted": True,
                "overlay": {
                    "edges": [0.0, 1.0],
                    "reference": [0.0, 1.0, 0.0],
                    "window": [0.5, 0.5, 0.0],
                },
            },
        },
        "drifted": ["<b>age</b>"],
        "share": 1.0,
        "dataset_drift": True,
    }
    first = records.add_report(ws.actor, **report_fields(drift=drift, message="<i>first</i>"))
    with local_ui(ws) as client:
        page = client.get("/monitoring").text
        assert f'id="report-{first.id}"' in page
        assert "&lt;i&gt;first&lt;/i&gt;" in page
        assert "&lt;b&gt;age&lt;/b&gt;" in page
        assert "<b>age</b>" not in page.split("<main>")[1].split("</main>")[0]
        second = records.add_report(ws.actor, **report_fields(model="upsell", rows=7))
        again = client.get("/monitoring").text
        assert f'id="report-{second.id}"' in again
        assert f'id="report-{first.id}"' in again
        upsell = client.get("/monitoring", params={"model": "upsell"}).text
        assert f'id="report-{second.id}"' in upsell
        assert f'id="report-{first.id}"' not in upsell
        old = client.get(f"/monitoring/reports/{first.id}")
        assert old.status_code == 200
        assert 'data-feature="&lt;b&gt;age&lt;/b&gt;"' in old.text
        zero = client.get("/monitoring/reports/0")
        assert zero.status_code == 404
        assert f"the newest is #{second.id}" in zero.text


def test_an_empty_workspace_renders(tmp_path: Path) -> None:
    init_project(tmp_path / "empty", name="empty")
    ws = Workspace.open(tmp_path / "empty")
    with local_ui(ws) as client:
        page = client.get("/monitoring")
        assert page.status_code == 200
        assert 'id="reports-empty"' in page.text
        assert 'id="alerts"' in page.text
        none = client.get("/monitoring/reports/1")
        assert none.status_code == 404
        assert "none is stored yet" in none.text
