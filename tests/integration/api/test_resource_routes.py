"""The control plane's resource routes over a real project, through a real server.

A small project (a dataset of two versions with string columns, a run with metrics, two
registered scikit-learn versions, a gate decision) is served by ``conveyor server`` on
127.0.0.1; each route's JSON is checked against what the Python API says, deployment
actions run through the rollout controller as the calling token, protected environments
refuse developers, and hostile names are refused before any lookup.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.api._resources import RESOURCE_POLICIES
from conveyor.checks import GateDecision, Subject, record_decision
from conveyor.workspace import Workspace
from server_support import Server, control_plane

CONFIG = """
project: {name: api-resources}
environments:
  staging: {strategy: replace}
  sandbox: {strategy: replace}
  production: {strategy: replace, protected: true}
"""


@dataclass
class Project:
    server: Server
    ws: Workspace
    run_id: str
    tokens: dict[str, str]

    def get(self, path: str, role: str = "viewer", **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.server.url}/api/v1{path}",
            params=params,
            headers={"authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
        )

    def post(self, path: str, role: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.server.url}/api/v1{path}",
            json=body,
            headers={"authorization": f"Bearer {self.tokens[role]}"},
            timeout=120,
        )


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.uniform(18, 80, n),
            "spend": rng.uniform(0, 100, n),
            "plan": rng.choice(["basic", "pro", "team"], n),
        }
    )


def _register(ws: Workspace, seed: int) -> int:
    frame = _frame(60, seed)[["age", "spend"]]
    model = LogisticRegression().fit(frame, (frame["spend"] > 50).astype(int))
    version = ws.models.register(
        "churn", model, input_example=frame.head(3), explain=False, onnx=False
    )
    return version.version


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root: Path = tmp_path_factory.mktemp("api-resources")
    (root / "conveyor.yaml").write_text(CONFIG, encoding="utf-8")
    ws = Workspace.open(root, actor="alice", env={}, search_parents=False)
    try:
        ws.datasets.add("customers", _frame(40, 0), message="first")
        ws.datasets.add("customers", _frame(50, 1), message="more rows")
        run = ws.runs.start_run("training", kind="pipeline", params={"lr": 0.1}, capture=False)
        ws.runs.log_metric(run.id, "accuracy", 0.8, step=1)
        ws.runs.log_metric(run.id, "accuracy", 0.9, step=2)
        ws.runs.finish_run(run.id, "completed")
        ws.runs.flush()
        for seed in range(3):
            _register(ws, seed)
        ws.models.set_alias("churn", 1, "challenger")
        record_decision(
            ws,
            GateDecision(
                decision="PROMOTE",
                reasons=("accuracy is 0.9",),
                subject=Subject("model", "churn@2"),
                champion_ref=None,
                suite_id="suite-1",
            ),
        )
        with control_plane(ws) as server:
            tokens = {
                role: server.token(role, role)
                for role in ("viewer", "developer", "deployer", "admin")
            }
            yield Project(server, ws, run.id, tokens)
    finally:
        ws.close()


# -- reads -------------------------------------------------------------------------------


def test_datasets_list_log_show_and_diff(project: Project) -> None:
    listed = project.get("/datasets").json()
    assert [(d["name"], d["latest_version"], d["versions"]) for d in listed] == [
        ("customers", 2, 2)
    ]
    log = project.get("/datasets/customers").json()
    assert [v["version"] for v in log["versions"]] == [2, 1]
    assert log["versions"][0]["message"] == "more rows"

    shown = project.get("/datasets/customers/versions/1").json()
    assert shown["row_count"] == 40
    assert "plan" in shown["profile"]["columns"]
    assert project.get("/datasets/customers/versions/latest").json()["version"] == 2

    diff = project.get("/datasets/customers/diff", a="1", b="2").json()
    assert diff["a"] == "customers@1"
    assert diff["b"] == "customers@2"
    assert diff["row_counts"] == [40, 50]
    assert diff["row_count_delta"] == 10


def test_missing_dataset_and_version_are_404_with_their_codes(project: Project) -> None:
    missing = project.get("/datasets/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "dataset_not_found"
    version = project.get("/datasets/customers/versions/9")
    assert version.status_code == 404
    assert version.json()["code"] == "version_not_found"


def test_runs_list_show_metrics_and_compare(project: Project) -> None:
    runs = project.get("/runs", name="training").json()
    assert [r["id"] for r in runs] == [project.run_id]
    assert runs[0]["metrics"] == {"accuracy": 0.9}
    assert project.get("/runs", status="failed").json() == []

    shown = project.get(f"/runs/{project.run_id[:8]}").json()
    assert shown["run"]["id"] == project.run_id
    assert shown["params"] == {"lr": 0.1}
    assert shown["metrics"] == {"accuracy": 0.9}

    points = project.get(f"/runs/{project.run_id}/metrics", key="accuracy").json()
    assert [(p["step"], p["value"]) for p in points] == [(1, 0.8), (2, 0.9)]

    compared = project.get("/runs/compare", ids=f"{project.run_id},{project.run_id}").json()
    assert compared == project.ws.runs.compare(project.run_id, project.run_id).to_dict()

    bad = project.get("/runs/compare", ids=project.run_id)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_query"
    assert project.get("/runs/abcdef0123").json()["code"] == "run_not_found"


def test_models_versions_aliases_history_and_card(project: Project) -> None:
    listed = project.get("/models").json()
    assert [(m["name"], m["versions"]) for m in listed] == [("churn", 3)]
    versions = project.get("/models/churn").json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]

    assert project.get("/models/churn/versions/2").json()["version"] == 2
    by_alias = project.get("/models/churn/versions/challenger").json()
    assert by_alias["version"] == 1
    assert project.get("/models/churn/versions/latest").json()["version"] == 3

    history = project.get("/models/churn/history").json()
    assert [h["kind"] for h in history].count("registered") == 3

    card = project.get("/models/churn/versions/2/card")
    assert card.headers["content-type"].startswith("text/markdown")
    assert card.headers["x-content-type-options"] == "nosniff"
    # The card as `conveyor models card` shows it: the registry's, with the cost section.
    plain = project.ws.models.card("churn@2").markdown
    assert card.text.startswith(plain.rstrip())
    assert "## Cost" in card.text
    assert "## Cost" not in plain
    as_json = project.get("/models/churn/versions/2/card", format="json").json()
    assert as_json["ref"] == "churn@2"
    assert as_json["html"].lstrip().lower().startswith("<!doctype html")

    gone = project.get("/models/churn/versions/7")
    assert gone.status_code == 404
    assert gone.json()["code"] == "model_version_not_found"
    assert project.get("/models/nope").json()["code"] == "model_not_found"


def test_gate_decisions_by_version_and_by_model(project: Project) -> None:
    one = project.get("/checks/decisions", model="churn@2").json()
    assert [(d["decision"], d["subject"]["ref"], d["actor"]) for d in one] == [
        ("PROMOTE", "churn@2", "alice")
    ]
    assert project.get("/checks/decisions", model="churn").json() == one
    assert project.get("/checks/decisions", model="churn@1").json() == []


def test_monitoring_events_audit_and_tokens(project: Project) -> None:
    assert project.get("/monitoring/reports", env="production").json() == []
    assert project.get("/monitoring/alerts").json() == []

    events = project.get("/events", action="data.add").json()
    assert [e["target"] for e in events] == ["dataset:customers@1", "dataset:customers@2"]
    assert events[0]["seq"] < events[1]["seq"]
    assert len(project.get("/events", limit=1).json()) == 1
    second = project.get("/events", action="data.add", target="dataset:customers@2").json()
    assert [e["seq"] for e in second] == [events[1]["seq"]]

    verified = project.get("/audit/verify").json()
    assert verified["ok"] is True
    assert verified["count"] >= 2

    tokens = project.get("/tokens", role="admin")
    assert tokens.status_code == 200
    listed = {t["name"]: t for t in tokens.json()}
    assert listed["developer"]["role"] == "developer"
    assert listed["developer"]["state"] == "active"
    assert not any(k in t for t in listed.values() for k in ("secret", "hash", "token_hash"))
    for secret in project.tokens.values():
        assert secret not in tokens.text
    assert project.get("/tokens", role="developer").status_code == 403


def test_deployments_list_every_configured_environment(project: Project) -> None:
    listed = {d["environment"]: d for d in project.get("/deployments").json()}
    assert {"staging", "sandbox", "production"} <= set(listed)
    assert listed["production"]["protected"] is True
    assert listed["staging"]["protected"] is False
    unknown = project.get("/deployments/nowhere")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "environment_not_found"


# -- actions -----------------------------------------------------------------------------


def test_developer_deploys_and_promotes_in_an_unprotected_environment(project: Project) -> None:
    deployed = project.post("/deployments/sandbox/deploy", "developer", {"model": "churn@1"})
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["variants"][0]["version"] == 1
    again = project.post(
        "/deployments/sandbox/deploy", "developer", {"model": "churn@2", "strategy": "canary"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "progressing"
    promoted = project.post("/deployments/sandbox/promote", "developer", {"reason": "looks good"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["state"] == "promoted"

    current = project.get("/deployments/sandbox").json()["deployment"]
    assert current["revision"] == promoted.json()["revision"]
    history = project.get("/deployments/sandbox/history").json()
    assert [t["action"] for t in history] == ["deploy", "deploy", "promote"]
    assert {t["actor"] for t in history} == {"token:developer"}
    assert history[-1]["reason"] == "looks good"
    # The alias move the promotion made is the token's too.
    alias_events = project.ws.audit_log(target="model:churn")
    assert any(e.actor == "token:developer" for e in alias_events)


def test_protected_environment_refuses_a_developer_and_takes_a_deployer(
    project: Project,
) -> None:
    before = project.ws.deployments.current("production")
    events_before = len(project.ws.audit_log())
    refused = project.post("/deployments/production/deploy", "developer", {"model": "churn@1"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "access_denied"
    assert project.ws.deployments.current("production") == before
    assert len(project.ws.audit_log()) == events_before
    # The environment is authorized before the body is looked at.
    bare = project.post("/deployments/production/deploy", "developer", {"model": "churn"})
    assert bare.status_code == 403

    done = project.post("/deployments/production/deploy", "deployer", {"model": "churn@1"})
    assert done.status_code == 200, done.text
    assert project.ws.deployments.history("production")[-1].actor == "token:deployer"
    rollback = project.post("/deployments/production/rollback", "developer", {"reason": "x"})
    assert rollback.status_code == 403


def test_viewer_cannot_deploy_and_nothing_changes(project: Project) -> None:
    before = project.ws.deployments.current("staging")
    refused = project.post("/deployments/staging/deploy", "viewer", {"model": "churn@1"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "access_denied"
    assert project.ws.deployments.current("staging") == before


def test_deploy_body_is_checked(project: Project) -> None:
    extra = project.post(
        "/deployments/staging/deploy", "developer", {"model": "churn@1", "actor": "root"}
    )
    assert extra.status_code == 422
    bare = project.post("/deployments/staging/deploy", "developer", {"model": "churn"})
    assert bare.status_code == 400
    assert bare.json()["code"] == "invalid_name"
    nothing = project.post("/deployments/staging/resume", "developer")
    assert nothing.status_code == 409  # the state does not allow it
    assert nothing.json()["code"] == "nothing_to_do"


# -- hostile input -----------------------------------------------------------------------

HOSTILE = [
    "%2E%2E",
    "a..b",
    ".hidden",
    "a%00b",
    "x" * 200,
    "churn%E2%80%8B",  # zero-width space
    "%D1%81hurn",  # Cyrillic es
    "a%20b",
    "a%5Cb",
]


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize(
    "template",
    [
        "/datasets/{}",
        "/datasets/{}/versions/1",
        "/models/{}",
        "/models/{}/history",
        "/models/churn/versions/{}",
        "/models/{}/versions/1/card",
        "/deployments/{}",
        "/deployments/{}/history",
    ],
)
def test_hostile_names_are_refused_before_any_lookup(
    project: Project, template: str, name: str
) -> None:
    url = f"{project.server.url}/api/v1{template.format(name)}"
    headers = {"authorization": f"Bearer {project.tokens['viewer']}"}
    answer = httpx.get(url, headers=headers, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] in ("invalid_name", "invalid_version")
    # Without a token the guard answers first: nothing about the name is revealed.
    assert httpx.get(url, timeout=30).status_code == 401


@pytest.mark.parametrize("run_id", ["%2E%2E", "abc", "zzzzzzzz", "a" * 65, "abcdef%00"])
def test_hostile_run_ids_are_refused(project: Project, run_id: str) -> None:
    headers = {"authorization": f"Bearer {project.tokens['viewer']}"}
    answer = httpx.get(f"{project.server.url}/api/v1/runs/{run_id}", headers=headers, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_name"


def test_hostile_environment_in_an_action_is_refused(project: Project) -> None:
    answer = project.post("/deployments/%2E%2E/promote", "developer", {"reason": "x"})
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_name"


def test_every_resource_route_is_in_openapi_with_a_summary(project: Project) -> None:
    spec = httpx.get(
        f"{project.server.url}/openapi.json",
        headers={"authorization": f"Bearer {project.tokens['viewer']}"},
        timeout=30,
    ).json()
    paths = spec["paths"]
    for path in RESOURCE_POLICIES:
        for operation in paths[path].values():
            assert operation["summary"], path
            assert operation["tags"], path
