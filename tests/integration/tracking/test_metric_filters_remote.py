"""Metric filters and a page's tree metrics through a real control plane: the REST records
answer exactly as the local SQL ones, on SQLite and PostgreSQL, and hostile filters get a
4xx while the server keeps serving."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conveyor.api import create_app
from conveyor.core import Actor
from conveyor.remote import RemoteClient, rest_records
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.store import open_store
from conveyor.tracking import BaseRunRecords, MetricFilter, RunTracker, TreeMetric
from conveyor.workspace import Workspace
from server_support import serve_app  # type: ignore[import-not-found]


@pytest.fixture
def served(metadata_url: str, tmp_path: Path) -> Iterator[tuple[Workspace, RemoteClient, str]]:
    """A workspace with logistic-regression runs on the wine data, served over HTTP."""
    with open_store(f"sqlite:///{tmp_path / 'auth.db'}") as auth:
        tokens = Tokens(SqlTokenRecords(auth))
        secret, _ = tokens.create("remote", "admin", actor=Actor(name="admin"))
        env = {"CONVEYOR_METADATA_URL": metadata_url}
        with Workspace.open(tmp_path / "served", env=env) as ws:
            _fill(ws)
            with serve_app(create_app(ws, tokens=tokens)) as (url, _server):
                client = RemoteClient(url, secret, retries=2)
                try:
                    yield ws, client, secret
                finally:
                    client.close()


def _fill(ws: Workspace) -> None:
    data = load_wine(as_frame=True)
    x, y = data.data, data.target
    for c in (0.001, 0.01, 0.1, 1.0, 10.0):
        run = ws.runs.start_run(f"logreg-{c}", kind="pipeline", params={"C": c})
        step = ws.runs.start_run("fit", kind="step", parent_id=run.id)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c)).fit(x, y)
        ws.runs.log_metrics(step.id, {"accuracy": float(model.score(x, y))})
        ws.runs.log_metrics(run.id, {"classes": float(len(set(y))), "loss": math.nan})
        ws.runs.finish_run(step.id, "completed")
        ws.runs.finish_run(run.id, "completed")
    ws.runs.flush()


WHERE = [
    [MetricFilter("accuracy", ">", 0.9)],
    [MetricFilter("accuracy", "<=", 0.95), MetricFilter("classes", "==", 3.0)],
    [MetricFilter("loss", "<", 1.0)],
    [MetricFilter("classes", "!=", 3.0)],
]


def test_remote_search_and_tree_metrics_equal_the_local_ones(
    served: tuple[Workspace, RemoteClient, str], tmp_path: Path
) -> None:
    ws, client, _ = served
    remote = rest_records(BaseRunRecords, client)  # type: ignore[type-abstract]
    local = ws.runs.records
    for where in WHERE:
        for sort in ("started_at", "metric:accuracy"):
            asked = {"where": where, "sort": sort, "top_level": True, "limit": 3}
            assert remote.search_runs(**asked) == local.search_runs(**asked)  # type: ignore[arg-type]
    page = local.search_runs(top_level=True)
    assert page.total == 5
    tracker = RunTracker(
        None, ws.artifacts, actor=Actor("remote"), root=tmp_path / "remote", records=remote
    )
    many = tracker.run_tree_metrics_many(page.runs)
    assert many.keys() == ws.runs.run_tree_metrics_many(page.runs).keys()
    for run in page.runs:
        assert _plain(many[run.id]) == _plain(ws.runs.run_tree_metrics(run.id))
    assert tracker.search(where=WHERE[0], top_level=True) == ws.runs.search(
        where=WHERE[0], top_level=True
    )


def _plain(tree: dict[str, TreeMetric]) -> dict[str, object]:
    return {
        key: (m.run_id, m.source, None if math.isnan(m.value) else m.value)
        for key, m in tree.items()
    }


@pytest.mark.parametrize(
    "where",
    [
        [{"key": "", "op": "<", "value": 1}],
        [{"key": "accuracy", "op": "<<", "value": 1}],
        [{"key": "accuracy", "op": "; drop table runs", "value": 1}],
        [{"key": "accuracy", "op": "<", "value": "NaN"}],
        [{"key": "accuracy", "op": "<", "value": "Infinity"}],
        [{"key": "accuracy", "op": "<", "value": "1e999"}],
        [{"key": "accuracy", "op": "<", "value": {"$gt": 0}}],
        [{"key": ["accuracy"], "op": "<", "value": 1}],
        [{"op": "<", "value": 1}],
        "accuracy<1",
        [None],
    ],
)
def test_a_hostile_filter_gets_a_4xx_and_the_server_keeps_serving(
    served: tuple[Workspace, RemoteClient, str], where: object
) -> None:
    _, client, secret = served
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"{client.url}/api/v1/records/run/search_runs"
    answer = httpx.post(url, json={"where": where}, headers=headers, timeout=10)
    assert 400 <= answer.status_code < 500, answer.text
    fine = httpx.post(
        url,
        json={"where": [{"key": "accuracy", "op": ">", "value": 0.5}], "top_level": True},
        headers=headers,
        timeout=10,
    )
    assert fine.status_code == 200
    assert fine.json()["result"]["total"] == 5
