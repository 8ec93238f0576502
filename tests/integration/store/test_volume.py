"""A workspace with a long history (1/100 of the volume benchmark's largest size), on SQLite
and PostgreSQL: the everyday queries answer right and page through everything.

The bulk is written by the benchmark's builder (SQLAlchemy Core into the real tables, real
Parquet objects in the artifact store); every check goes through the public API or the CLI.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from conveyor.rollout import Controller
from conveyor.tracking import MetricFilter, parse_metric_filter
from conveyor.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parents[3]))
sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))
from benchmarks.bench_volume import (
    MODELS,
    NOW,
    PREDICTIONS_PER_DAY,
    WHERE,
    Volume,
    build_volume,
)
from cli_in_process import in_process

pytestmark = pytest.mark.slow

VOLUME = Volume(runs=1_000, versions=50, predictions=2 * PREDICTIONS_PER_DAY)


@pytest.fixture
def project(tmp_path: Path, metadata_url: str) -> Path:
    root = tmp_path / "project"
    build_volume(root, metadata_url, VOLUME)
    return root


def _open(root: Path) -> Workspace:
    return Workspace.open(root, actor="tester", env={}, search_parents=False)


def test_runs_page_through_every_top_level_run_and_sort_by_metric(project: Path) -> None:
    with _open(project) as ws:
        every = ws.runs.list(top_level=True, limit=None)
        assert len(every) == VOLUME.runs
        starts = [run.started_at for run in every]
        assert starts == sorted(starts, reverse=True)
        pages = [
            run.id
            for offset in range(0, VOLUME.runs + 300, 300)
            for run in ws.runs.list(top_level=True, limit=300, offset=offset)
        ]
        assert pages == [run.id for run in every]

        found = ws.runs.records.search_runs(sort="metric:accuracy", limit=50)
        assert found.total == VOLUME.runs
        latest = ws.runs.records.latest_metrics([run.id for run in every])
        expected = sorted(
            every, key=lambda run: (-latest[run.id]["accuracy"].value, -run.started_at.timestamp())
        )
        assert [run.id for run in found.runs] == [run.id for run in expected[:50]]


def test_runs_filtered_by_metrics_equal_a_direct_computation(project: Path) -> None:
    with _open(project) as ws:
        every = ws.runs.list(top_level=True, limit=None)
        latest = ws.runs.records.latest_metrics([run.id for run in every])
        value = {run.id: latest[run.id]["accuracy"].value for run in every}
        second = {run.id: latest[run.id]["metric_3"].value for run in every}
        for where, passes in (
            ([parse_metric_filter(WHERE)], lambda run_id: value[run_id] > 0.9),
            (
                [MetricFilter("accuracy", "<=", 0.25), MetricFilter("metric_3", ">", 0.5)],
                lambda run_id: value[run_id] <= 0.25 and second[run_id] > 0.5,
            ),
            ([MetricFilter("accuracy", "==", value[every[7].id])], lambda r: r == every[7].id),
        ):
            expected = [run.id for run in every if passes(run.id)]
            assert expected  # each filter keeps some runs, not all
            assert len(expected) < len(every) or len(expected) == 1
            pages = [
                run.id
                for offset in range(0, len(expected) + 40, 40)
                for run in ws.runs.search(where=where, top_level=True, offset=offset, limit=40).runs
            ]
            assert pages == expected  # newest first, every match once
            assert ws.runs.search(where=where, top_level=True, limit=1).total == len(expected)
        best = ws.runs.search(where=[parse_metric_filter(WHERE)], sort="metric:accuracy", limit=5)
        assert [run.id for run in best.runs] == [
            run.id for run in sorted(every, key=lambda r: (-value[r.id], -r.started_at.timestamp()))
        ][:5]
        assert ws.runs.search(where=[MetricFilter("no_such_metric", ">", 0.0)]).total == 0


def test_runs_list_where_cli_matches_the_api(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_process(monkeypatch, capsys)
    listed = run(project, "runs", "list", "--where", WHERE, "--limit", "500", "--json")
    assert listed.returncode == 0
    rows = json.loads(listed.stdout)
    with _open(project) as ws:
        page = ws.runs.search(where=[parse_metric_filter(WHERE)], top_level=True, limit=500)
        trees = ws.runs.run_tree_metrics_many(page.runs)
    assert [r["id"] for r in rows] == [r.id for r in page.runs]
    assert all(r["metrics"]["accuracy"] > 0.9 for r in rows)
    assert [r["metrics"] for r in rows] == [
        {k: m.value for k, m in trees[r["id"]].items()} for r in rows
    ]


def test_runs_list_cli_pages_with_limit_and_offset(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = in_process(monkeypatch, capsys)
    first = run(project, "runs", "list", "--limit", "7", "--json")
    second = run(project, "runs", "list", "--limit", "7", "--offset", "7", "--json")
    both = run(project, "runs", "list", "--limit", "14", "--json")
    assert (first.returncode, second.returncode, both.returncode) == (0, 0, 0)
    ids = [r["id"] for r in json.loads(first.stdout)] + [r["id"] for r in json.loads(second.stdout)]
    assert ids == [r["id"] for r in json.loads(both.stdout)]
    assert len(set(ids)) == 14
    assert all(len(r["metrics"]) == 10 for r in json.loads(both.stdout))


def test_models_list_history_and_deploy(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    per_model = VOLUME.versions // MODELS
    with _open(project) as ws:
        every = ws.models.list()
        assert [m.name for m in every] == [f"model_{m:02d}" for m in range(MODELS)]
        assert {m.versions for m in every} == {per_model}
        assert {m.aliases["champion"] for m in every} == {per_model}
        assert ws.models.list(offset=3, limit=4) == every[3:7]
        history = ws.models.history("model_03")
        assert len(history) == 2 * per_model  # a registration and an alias move each
        assert ws.models.history("model_03", limit=3) == history[-3:]
        deployment = Controller(ws).deploy(f"model_03@{per_model}", "production")
        assert [v.ref for v in deployment.variants] == [f"model_03@{per_model}"]
    run = in_process(monkeypatch, capsys)
    paged = run(project, "models", "list", "--offset", "8", "--json")
    assert paged.returncode == 0
    assert [m["name"] for m in json.loads(paged.stdout)] == ["model_08", "model_09"]
    newest = run(project, "models", "history", "model_03", "--limit", "2", "--json")
    assert [e["version"] for e in json.loads(newest.stdout)] == [per_model, per_model]


def test_a_one_day_window_reads_that_day_and_gc_keeps_the_log(project: Path) -> None:
    until = NOW
    since = until - timedelta(days=1)
    with _open(project) as ws:
        assert ws.predictions.count(model="model_00") == VOLUME.predictions
        frame = ws.predictions.read(model="model_00", since=since, until=until)
        assert len(frame) == PREDICTIONS_PER_DAY
        assert frame["at"].min() >= since
        assert frame["at"].max() < until
        stray = ws.artifacts.put_bytes(b"referenced by nothing").hash
        result = ws.gc(grace=timedelta(0))
        assert result.removed == [stray]
        assert ws.predictions.count(model="model_00") == VOLUME.predictions
        assert len(ws.predictions.read(model="model_00", since=since, until=until)) == len(frame)
