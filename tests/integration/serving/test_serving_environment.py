"""Serving an environment from a real workspace: the server follows the deployment's
revisions without failed requests, keeps serving when a version fails to load, labels every
logged prediction with variant and revision, and routes sticky keys alike in two processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_support import free_port, running, training_frame, wait_ready
from sklearn.linear_model import LogisticRegression

from conveyor.deployments import Deployment, DeploymentStore, Variant
from conveyor.serving import ServingConfigError, ServingSettings
from conveyor.serving._launch import build_env_app
from conveyor.workspace import Workspace

ROW = {"age": 41.0, "spend": 80.0}
CONFIG = """\
project: {name: serving-env}
environments:
  production: {strategy: canary, sticky_key: x-user-id}
"""
SETTINGS = ServingSettings(prepare_explainers=False)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace with churn@1 and churn@2 (trained on opposite labels: they disagree)."""
    (tmp_path / "conveyor.yaml").write_text(CONFIG)
    with Workspace.open(tmp_path) as workspace:
        frame, target = training_frame()
        example = frame.head(20)
        workspace.models.register(
            "churn", LogisticRegression().fit(frame, target), input_example=example
        )
        workspace.models.register(
            "churn", LogisticRegression().fit(frame, 1 - target), input_example=example
        )
        yield workspace


def _store(ws: Workspace) -> DeploymentStore:
    return DeploymentStore(ws.store, actor=ws.actor)


def _move(ws: Workspace, *variants: Variant, **params: Any) -> Deployment:
    store = _store(ws)
    current = store.current("production")
    return store.transition(
        "production",
        expected_revision=None if current is None else current.revision,
        action="deploy",
        reason="test",
        strategy="canary",
        state="progressing",
        variants=variants,
        params=params,
    )


def _metric(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    }


def test_an_environment_missing_from_the_configuration_is_refused(ws: Workspace) -> None:
    with pytest.raises(
        ServingConfigError, match=r"'staging' is not in the configuration.*production"
    ):
        build_env_app(ws, "staging")


def test_a_revision_change_is_followed_while_requests_flow_and_none_fails(ws: Workspace) -> None:
    _move(ws, Variant("churn", 1, "champion", 100))
    app = build_env_app(ws, "production", settings=SETTINGS, interval_s=0.02)
    outcomes: list[tuple[int, int | None]] = []
    stop = threading.Event()

    def traffic(url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(3000):  # bounded; stops once v2 answered steadily
                answer = client.post("/v1/predict", json={"rows": [ROW]})
                version = answer.json().get("version") if answer.status_code == 200 else None
                outcomes.append((answer.status_code, version))
                recent = outcomes[-30:]
                if stop.is_set() and len(recent) == 30 and all(v == 2 for _, v in recent):
                    return

    with running(app) as url:
        with httpx.Client(base_url=url, timeout=10) as client:
            assert wait_ready(client).status_code == 200
        sender = threading.Thread(target=traffic, args=(url,))
        sender.start()
        while len(outcomes) < 20:
            time.sleep(0.01)
        _move(ws, Variant("churn", 2, "champion", 100))
        stop.set()
        sender.join(60)
    assert {status for status, _ in outcomes} == {200}
    versions = [v for _, v in outcomes]
    assert versions[0] == 1
    assert versions[-1] == 2
    # One switch: once v2 answered, v1 never answered again.
    assert 1 not in versions[versions.index(2) :]


def test_a_version_that_fails_to_load_is_reported_and_the_served_one_keeps_serving(
    ws: Workspace,
) -> None:
    first, second = ws.models.get("churn@1"), ws.models.get("churn@2")
    kept = {entry["hash"] for entry in ws.models.manifest(first)["files"].values()}
    spoiled = {entry["hash"] for entry in ws.models.manifest(second)["files"].values()}
    spoiled |= {second.onnx["hash"]} if second.onnx else set()
    for digest in spoiled - kept - ({first.onnx["hash"]} if first.onnx else set()):
        stored = ws.root / ".conveyor" / "artifacts" / "objects" / digest[:2] / digest[2:]
        stored.chmod(0o644)
        stored.write_bytes(b"evil")
    _move(ws, Variant("churn", 1, "champion", 100))
    app = build_env_app(ws, "production", settings=SETTINGS, interval_s=0.02)
    with running(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert wait_ready(client).status_code == 200
        _move(ws, Variant("churn", 1, "champion", 50), Variant("churn", 2, "challenger", 50))
        deadline = time.monotonic() + 20
        while True:
            failures = _metric(client.get("/metrics").text, "conveyor_model_load_failures_total")
            if failures or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        versions = {
            client.post("/v1/predict", json={"rows": [ROW]}).json()["version"] for _ in range(30)
        }
        ready = client.get("/v2/health/ready")
        text = client.get("/metrics").text
    key = (("environment", "production"), ("model", "churn"), ("version", "2"))
    assert failures[key] >= 1
    assert versions == {1}
    assert ready.status_code == 200
    assert _metric(text, "conveyor_deployment_revision") == {(("environment", "production"),): 1}
    assert _metric(text, "conveyor_model_load_failing")[key] == 1


def test_every_logged_prediction_and_request_metric_carries_variant_and_revision(
    ws: Workspace,
) -> None:
    _move(ws, Variant("churn", 1, "champion", 50), Variant("churn", 2, "challenger", 50))
    app = build_env_app(ws, "production", settings=SETTINGS, interval_s=0.02)
    with running(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        assert wait_ready(client).status_code == 200
        answers = [client.post("/v1/predict", json={"rows": [ROW]}) for _ in range(40)]
        text = client.get("/metrics").text
    logged = ws.predictions.read(environment="production")
    assert len(logged) == 40
    assert set(logged["variant"]) == {"champion", "challenger"}
    assert set(logged["revision"]) == {1}
    assert set(logged["status"]) == {"ok"}
    pairs = set(zip(logged["variant"], logged["version"], strict=True))
    assert pairs == {("champion", 1), ("challenger", 2)}
    by_id = dict(zip(logged["request_id"], logged["version"], strict=True))
    assert all(by_id[a.json()["request_id"]] == a.json()["version"] for a in answers)
    requests = _metric(text, "conveyor_requests_total")
    labelled = {(dict(k)["variant"], dict(k)["revision"]) for k in requests}
    assert labelled == {("champion", "1"), ("challenger", "1")}


def _server(root: Path, port: int) -> subprocess.Popen[bytes]:
    code = (
        "from pathlib import Path; from conveyor.serving import ServingSettings; "
        "from conveyor.serving._launch import serve; "
        f"serve(Path({str(root)!r}), environment='production', port={port}, "
        "settings=ServingSettings(prepare_explainers=False))"
    )
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ})


@pytest.mark.slow
def test_sticky_ab_assignment_is_the_same_in_two_server_processes(ws: Workspace) -> None:
    _move(ws, Variant("churn", 1, "a", 50), Variant("churn", 2, "b", 50))
    ports = [free_port(), free_port()]
    servers = [_server(ws.root, port) for port in ports]
    assignments: list[dict[str, int]] = []
    try:
        for port in ports:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if client.get("/v2/health/ready").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, "server did not become ready"
                    time.sleep(0.1)
                assignments.append(
                    {
                        user: client.post(
                            "/v1/predict", json={"rows": [ROW]}, headers={"x-user-id": user}
                        ).json()["version"]
                        for user in (f"user-{i}" for i in range(30))
                    }
                )
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        codes = [server.wait(30) for server in servers]
    # uvicorn drains, then ends by the signal it was sent.
    assert set(codes) <= {0, -signal.SIGTERM}
    assert assignments[0] == assignments[1]
    assert set(assignments[0].values()) == {1, 2}
