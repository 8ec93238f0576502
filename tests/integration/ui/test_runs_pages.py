"""The runs pages: the runs table (filters, sorting, pagination), one run, and the
comparison of runs, on the demo's project and on workspaces made in the test."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conveyor.tracking import Run
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


def _row_ids(page: str) -> list[str]:
    return re.findall(r'<tr id="run-([0-9a-f]{32})">', page)


def _metric_cells(page: str, key: str) -> list[str]:
    return re.findall(rf'<td class="num metric" data-key="{re.escape(key)}">([^<]*)</td>', page)


@pytest.fixture(scope="module")
def demo() -> Workspace:
    return Workspace.open(demo_folder())


def _fresh(folder: Path) -> Workspace:
    """A new project's workspace in ``folder`` (``conveyor init``)."""
    init_project(folder, name=folder.name)
    return Workspace.open(folder)


def _top_runs(ws: Workspace) -> list[Run]:
    return [r for r in ws.runs.records.list_runs() if r.kind in ("pipeline", "tune")]


def test_runs_table_lists_top_level_runs_with_params_and_step_metrics(demo: Workspace) -> None:
    top = _top_runs(demo)
    steps = list(demo.runs.records.list_runs(kind="step"))
    training = next(r for r in top if r.kind == "pipeline")
    roc_auc = demo.runs.run_tree_metrics(training.id)["roc_auc"].value
    with local_ui(demo) as client:
        page = client.get("/runs")
        assert page.status_code == 200
        text = page.text
    assert 'id="runs-table"' in text
    assert set(_row_ids(text)) == {r.id for r in top}
    assert not {s.id for s in steps} & set(_row_ids(text))
    # Parameters and the steps' latest metrics are columns.
    assert 'data-key="seed"' in text
    assert 'data-key="n_trials"' in text
    row = text.split(f'<tr id="run-{training.id}">')[1].split("</tr>")[0]
    assert f'data-key="roc_auc">{roc_auc:.4g}' in row or f"{roc_auc:.4f}".rstrip("0") in row
    assert f'value="{training.id}"' in row  # its compare checkbox
    assert 'action="/runs/compare"' in text
    assert 'id="compare-submit"' in text


def test_sorting_by_a_metric_orders_rows_by_its_value(demo: Workspace) -> None:
    pipelines = [r for r in _top_runs(demo) if r.kind == "pipeline"]
    values = {r.id: demo.runs.run_tree_metrics(r.id)["roc_auc"].value for r in pipelines}
    with local_ui(demo) as client:
        high = client.get("/runs", params={"sort": "metric:roc_auc", "kind": "pipeline"}).text
        low = client.get(
            "/runs", params={"sort": "metric:roc_auc", "order": "asc", "kind": "pipeline"}
        ).text
    assert _row_ids(high) == sorted(values, key=lambda i: -values[i])
    assert _row_ids(low) == sorted(values, key=lambda i: values[i])
    shown = [float(v) for v in _metric_cells(high, "roc_auc")]
    assert shown == sorted(shown, reverse=True)
    assert 'class="sorted desc"' in high
    assert 'class="sorted asc"' in low


def test_filters_narrow_the_table(demo: Workspace) -> None:
    studies = [r for r in _top_runs(demo) if r.kind == "tune"]
    with local_ui(demo) as client:
        by_kind = client.get("/runs", params={"kind": "tune"}).text
        by_name = client.get("/runs", params={"q": studies[0].name.upper()}).text
        nothing = client.get("/runs", params={"q": "no such run", "status": "failed"}).text
    assert set(_row_ids(by_kind)) == {r.id for r in studies}
    assert _row_ids(by_name) == [studies[0].id]
    assert _row_ids(nothing) == []
    assert "No run matches these filters" in nothing


def _quick_runs(ws: Workspace, count: int) -> list[Run]:
    runs = []
    for i in range(count):
        run = ws.runs.start_run(f"quick-{i:03d}", kind="pipeline", params={"i": i})
        ws.runs.log_metric(run.id, "score", float(i))
        ws.runs.finish_run(run.id, status="completed")
        runs.append(run)
    return runs


def test_pagination_shows_runs_51_to_100_on_page_two(tmp_path: Path) -> None:
    with _fresh(tmp_path / "many") as ws:
        runs = _quick_runs(ws, 120)
        newest_first = [r.id for r in reversed(runs)]
        with local_ui(ws) as client:
            first = client.get("/runs").text
            second = client.get("/runs", params={"offset": 50}).text
            by_score = client.get("/runs", params={"sort": "metric:score", "offset": 100}).text
            by_param = client.get("/runs", params={"sort": "param:i", "order": "asc"}).text
    assert _row_ids(first) == newest_first[:50]
    assert _row_ids(second) == newest_first[50:100]
    assert "51\u2013100 of 120" in second
    assert 'href="/runs?offset=100" rel="next"' in second
    assert 'href="/runs?offset=0" rel="prev"' in second
    assert [float(v) for v in _metric_cells(by_score, "score")] == [
        float(i) for i in range(19, -1, -1)
    ]
    assert _row_ids(by_param)[:3] == [runs[0].id, runs[1].id, runs[2].id]


def test_run_page_shows_params_metrics_steps_code_and_datasets(demo: Workspace) -> None:
    training = next(r for r in _top_runs(demo) if r.kind == "pipeline")
    tree = demo.runs.run_tree_metrics(training.id)
    steps = demo.runs.children(training.id)
    used = demo.runs.datasets(training.id)
    with local_ui(demo) as client:
        page = client.get(f"/runs/{training.short_id}")
        assert page.status_code == 200
        text = page.text
        # The dataset links resolve.
        assert used
        link = f"/datasets/{used[0]['name']}/versions/{used[0]['version']}"
        assert f'href="{link}"' in text
        assert client.get(link).status_code == 200
        step_page = client.get(f"/runs/{steps[0].id}").text
    assert training.id in text
    assert 'id="step-graph"' in text
    for step in steps:
        assert f'id="step-{step.name}"' in text
    assert "roc_auc" in text
    assert f"{tree['roc_auc'].value:.4f}".rstrip("0")[:5] in text
    assert str(training.params["seed"]) in text
    assert 'id="run-environment"' in text
    assert (training.environment or {}).get("python", "") in text
    assert 'id="run-parent"' in step_page
    assert f'href="/runs/{training.id}"' in step_page


def test_study_page_lists_trials_with_params_and_objective(demo: Workspace) -> None:
    study = next(r for r in _top_runs(demo) if r.kind == "tune")
    trials = demo.runs.children(study.id)
    latest = demo.runs.records.latest_metrics([t.id for t in trials])
    with local_ui(demo) as client:
        text = client.get(f"/runs/{study.id}").text
    assert 'id="trials-table"' in text
    for trial in trials:
        assert f'id="trial-{trial.id}"' in text
        objective = latest[trial.id]["objective"].value
        assert f"{objective:.4f}".rstrip("0") in text
    assert 'id="compare-trials"' in text
    ordered = sorted(trials, key=lambda t: (t.started_at, t.id))
    per_trial = _figure(text, "trials-chart")["data"][0]["y"]
    assert per_trial == [latest[t.id]["objective"].value for t in ordered]
    axes = _figure(text, "parallel-coordinates")["data"][0]["dimensions"]
    assert axes[-1]["label"] == "objective"
    assert sorted(axes[-1]["values"]) == sorted(per_trial)


def test_metric_history_is_charted_per_key(tmp_path: Path) -> None:
    with _fresh(tmp_path / "w") as ws:
        run = ws.runs.start_run("fit", kind="pipeline")
        ws.runs.log_metrics(run.id, {"loss": 1.0}, step=0)
        ws.runs.log_metrics(run.id, {"loss": 0.5}, step=1)
        ws.runs.log_metrics(run.id, {"loss": 0.25, "final": 3.0}, step=2)
        ws.runs.finish_run(run.id, status="completed")
        with local_ui(ws) as client:
            text = client.get(f"/runs/{run.id}").text
    figure = _figure(text, "metric-chart-loss")
    assert figure["data"][0]["y"] == [1.0, 0.5, 0.25]
    assert figure["data"][0]["x"] == [0, 1, 2]
    assert 'id="metric-chart-final"' not in text  # one point: no chart


def test_compare_two_runs_shows_both_with_their_points(demo: Workspace) -> None:
    a, b = [r for r in _top_runs(demo) if r.kind == "pipeline"][:2]
    ma, mb = demo.runs.run_tree_metrics(a.id), demo.runs.run_tree_metrics(b.id)
    with local_ui(demo) as client:
        page = client.get("/runs/compare", params={"ids": f"{a.short_id},{b.short_id}"})
        assert page.status_code == 200
        text = page.text
        # The checkboxes of /runs submit ids=A&ids=B: the same page.
        same = client.get("/runs/compare", params=[("ids", a.id), ("ids", b.id)])
        assert same.status_code == 200
    assert f'id="compare-run-{a.id}"' in text
    assert f'id="compare-run-{b.id}"' in text
    figure = _figure(text, "compare-chart-roc_auc")
    ys = {trace["name"][:8]: trace["y"] for trace in figure["data"]}
    assert ys == {a.short_id: [ma["roc_auc"].value], b.short_id: [mb["roc_auc"].value]}
    # The parameter that differs (broken) is highlighted; seed is the same.
    if a.params.get("broken") != b.params.get("broken"):
        assert re.search(r'<tr class="differs" data-key="broken">', text)
    assert re.search(r'<tr class="same" data-key="seed">', text)


def test_compare_a_study_draws_its_trials_in_parallel_coordinates(demo: Workspace) -> None:
    study, other = [r for r in _top_runs(demo) if r.kind == "tune"][:2]
    trials = demo.runs.children(study.id)
    with local_ui(demo) as client:
        text = client.get("/runs/compare", params={"ids": f"{study.id},{other.id}"}).text
        of_trials = client.get("/runs/compare", params={"ids": ",".join(t.id for t in trials)}).text
    figure = _figure(text, "parallel-coordinates")
    trace = figure["data"][0]
    assert trace["type"] == "parcoords"
    labels = [d["label"] for d in trace["dimensions"]]
    assert labels == ["learning_rate", "max_depth", "objective"]
    assert trace["dimensions"][0]["values"] == [t.params["learning_rate"] for t in trials]
    assert 'id="parallel-coordinates"' in of_trials


def test_hostile_run_name_and_parameter_render_escaped(tmp_path: Path) -> None:
    with _fresh(tmp_path / "w") as ws:
        run = ws.runs.start_run(
            "<script>alert(1)</script>",
            kind="pipeline",
            params={"<i>k</i>": "<img src=x onerror=alert(1)>"},
        )
        ws.runs.log_metric(run.id, "<b>m</b>", 1.0)
        ws.runs.finish_run(run.id, status="completed", error="<script>boom</script>")
        other = ws.runs.start_run("plain", kind="pipeline", params={"<i>k</i>": 1})
        ws.runs.finish_run(other.id, status="completed")
        with local_ui(ws) as client:
            pages = [
                client.get("/runs").text,
                client.get(f"/runs/{run.id}").text,
                client.get("/runs/compare", params={"ids": f"{run.id},{other.id}"}).text,
            ]
    for text in pages:
        assert "<script>alert(1)</script>" not in text
        assert "<img src=x" not in text
        assert "<b>m</b>" not in text
        assert "<i>k</i>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1]
    assert "&lt;script&gt;boom&lt;/script&gt;" in pages[1]


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("/runs/zz", 400, "&#39;zz&#39;"),
        ("/runs/0123456789abcdef", 404, "0123456789abcdef"),
        ("/runs/compare?ids=abc", 400, "&#39;abc&#39;"),
        ("/runs/compare?ids=0123456789abcdef", 400, "0123456789abcdef"),
        ("/runs/..%2Fetc", 400, "../etc"),
        ("/runs?offset=-1", 400, "-1"),
        ("/runs?sort=<script>", 400, "&#39;&lt;script&gt;&#39;"),
        ("/runs?status=bogus", 400, "&#39;bogus&#39;"),
        ("/runs?order=up", 400, "&#39;up&#39;"),
    ],
)
def test_bad_ids_and_queries_answer_error_pages_naming_the_value(
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
        page = client.get("/runs")
        assert page.status_code == 200
        assert 'id="runs-empty"' in page.text
        assert client.get("/runs", params={"sort": "metric:x", "q": "a"}).status_code == 200
