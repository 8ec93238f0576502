"""The datasets pages: the list, a dataset's versions with lineage and runs, a version's
profile and the diff of two versions, on the demo's project and on new workspaces."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

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


def _fresh(folder: Path) -> Workspace:
    """A new project's workspace in ``folder`` (``conveyor init``)."""
    init_project(folder, name=folder.name)
    return Workspace.open(folder)


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return Workspace.open(demo_folder())


def test_list_shows_every_dataset_with_its_latest_version(demo: Workspace) -> None:
    summaries = demo.datasets.list()
    with local_ui(demo) as client:
        page = client.get("/datasets")
        assert page.status_code == 200
        text = page.text
        for summary in summaries:
            latest = demo.datasets.get(summary.name)
            row = text.split(f'<tr id="dataset-{summary.name}">')[1].split("</tr>")[0]
            assert f'href="/datasets/{summary.name}"' in row
            assert f">v{latest.version}</a>" in row
            assert str(latest.row_count) in row
            assert client.get(f"/datasets/{summary.name}").status_code == 200


def test_dataset_page_shows_versions_lineage_and_the_runs_that_used_them(
    demo: Workspace,
) -> None:
    versions = demo.datasets.log("sessions")
    used = demo.runs.records.dataset_runs("sessions", [v.version for v in versions])
    assert any(used.values())
    with local_ui(demo) as client:
        text = client.get("/datasets/sessions").text
        rows = re.findall(r'<tr id="version-(\d+)">', text)
        assert [int(n) for n in rows] == [v.version for v in versions]  # newest first
        for version in versions:
            row = text.split(f'<tr id="version-{version.version}">')[1].split("</tr>")[0]
            assert version.content_hash[:12] in row
            if version.parent_version:
                assert f'href="/datasets/sessions/versions/{version.parent_version}"' in row
            for run in used[version.version]:
                assert f'href="/runs/{run.id}"' in row
        run = next(r for runs in used.values() for r in runs)
        assert client.get(f"/runs/{run.id}").status_code == 200


def test_version_page_shows_profile_charts_schema_and_runs(demo: Workspace) -> None:
    version = demo.datasets.get("sessions", 1)
    columns = (version.profile or {})["columns"]
    used = demo.runs.records.dataset_runs("sessions", [1])[1]
    with local_ui(demo) as client:
        text = client.get("/datasets/sessions/versions/1").text
        latest = client.get("/datasets/sessions/versions/latest")
        assert latest.status_code == 200
    assert version.content_hash in text
    assert f">{version.row_count}<" in text
    assert version.source is not None
    assert version.source in text
    numeric = next(name for name, stats in columns.items() if stats.get("histogram"))
    figure = _figure(text, f"hist-{numeric}")
    assert figure["data"][0]["y"] == columns[numeric]["histogram"]["counts"]
    categorical = next(name for name, stats in columns.items() if stats.get("top"))
    bars = _figure(text, f"hist-{categorical}")["data"][0]
    assert bars["x"] == [str(t["value"]) for t in columns[categorical]["top"]]
    assert 'id="version-schema"' in text
    for column, kind in (version.schema or {}).items():
        assert f'<th>{column}</th><td class="mono">{kind}</td>' in text
    for run in used:
        assert f'href="/runs/{run.id}"' in text


def test_diff_page_shows_rows_and_column_changes(demo: Workspace) -> None:
    diff = demo.datasets.diff("sessions@1", "sessions@2")
    with local_ui(demo) as client:
        text = client.get("/datasets/sessions/diff", params={"a": 1, "b": 2}).text
    rows_a, rows_b = diff.row_counts
    assert f"{rows_a} → {rows_b}" in text
    for column in diff.stat_changes:
        assert f'data-column="{column}"' in text
    for column in diff.top_changes:
        assert f'data-column="{column}"' in text
    assert "data.parquet" in "".join(diff.files_changed)
    assert "files changed" in text


def test_hostile_column_name_and_message_render_escaped(tmp_path: Path) -> None:
    csv = tmp_path / "evil.csv"
    csv.write_text("<b>x</b>,kind\n1,<script>a</script>\n2,b\n3,b\n")
    with _fresh(tmp_path / "w") as ws:
        ws.datasets.add("evil", csv, message="<img src=x onerror=alert(1)>")
        with local_ui(ws) as client:
            pages = [
                client.get("/datasets").text,
                client.get("/datasets/evil").text,
                client.get("/datasets/evil/versions/1").text,
            ]
    for text in pages:
        assert "<b>x</b>" not in text
        assert "<script>a</script>" not in text
        assert "<img src=x" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in pages[2]
    assert 'id="hist-&lt;b&gt;x&lt;/b&gt;"' in pages[2]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1]


def test_versions_are_paginated(tmp_path: Path) -> None:
    with _fresh(tmp_path / "w") as ws:
        for i in range(22):
            csv = tmp_path / "d.csv"
            csv.write_text(f"a\n{i}\n")
            ws.datasets.add("many", csv)
        with local_ui(ws) as client:
            first = client.get("/datasets/many").text
            second = client.get("/datasets/many", params={"offset": 20}).text
    assert re.findall(r'<tr id="version-(\d+)">', first) == [str(n) for n in range(22, 2, -1)]
    assert re.findall(r'<tr id="version-(\d+)">', second) == ["2", "1"]
    assert "21\u201322 of 22" in second


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/datasets/..%2Fetc", 400, "../etc"),
        ("/datasets/shop/versions/0", 400, "&#39;0&#39;"),
        ("/datasets/sessions/versions/99", 404, "99"),
        ("/datasets/nope", 404, "&#39;nope&#39;"),
        ("/datasets/sessions/diff?a=1", 400, "&#39;b&#39;"),
        ("/datasets/sessions/diff?a=1&b=x", 400, "&#39;x&#39;"),
        ("/datasets?offset=-1", 400, "-1"),
    ],
)
def test_bad_names_and_versions_answer_error_pages_naming_the_value(
    demo: Workspace, path: str, status: int, named: str
) -> None:
    with local_ui(demo) as client:
        page = client.get(path)
    assert page.status_code == status, page.text[:500]
    message = re.search(r'<p class="message">(.*?)</p>', page.text, re.S)
    assert message
    assert named in message.group(1)


def test_pages_of_an_empty_workspace_render(tmp_path: Path) -> None:
    with _fresh(tmp_path / "empty") as ws, local_ui(ws) as client:
        page = client.get("/datasets")
        assert page.status_code == 200
        assert 'id="datasets-empty"' in page.text
        assert client.get("/datasets/none").status_code == 404
