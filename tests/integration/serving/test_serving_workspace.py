"""Serving a model registered in a real workspace: protocols agree, predictions are logged,
feedback joins by request id, readiness is truthful, and tampered artifacts are refused."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from serving_support import running, training_frame
from sklearn.linear_model import LogisticRegression

from conveyor.serving import ModelHost, create_app
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

ROW = {"age": 41.0, "spend": 80.0}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace holding churn@1 (aliased champion): a logistic regression."""
    with Workspace.open(tmp_path) as workspace:
        frame, target = training_frame()
        registry = workspace.models
        registry.register(
            "churn", LogisticRegression().fit(frame, target), input_example=frame.head(20)
        )
        registry.set_alias("churn", 1, "champion")
        yield workspace


def _wait_ready(client: httpx.Client) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        answer = client.get("/v2/health/ready")
        if answer.status_code == 200 or "error" in answer.json() or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def test_registered_model_answers_alike_on_every_protocol_and_every_prediction_is_logged(
    ws: Workspace,
) -> None:
    with running(build_app(ws, "churn@champion")) as url:
        with httpx.Client(base_url=url, timeout=10) as client:
            assert _wait_ready(client).status_code == 200
            v1 = client.post("/v1/predict", json={"rows": [ROW]})
            mlflow = client.post("/invocations", json={"dataframe_records": [ROW]})
            batch = client.post("/v1/predict", json={"rows": [ROW, ROW]})
        grpc_like = triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=10)
        try:
            tensor = triton.InferInput("x", [1, 2], "FP64")
            tensor.set_data_from_numpy(np.array([[ROW["age"], ROW["spend"]]]))
            v2 = grpc_like.infer("churn", [tensor]).as_numpy("predict").tolist()
        finally:
            grpc_like.close()
    assert v1.json()["predictions"] == mlflow.json()["predictions"] == v2 == [1]
    assert (v1.json()["model"], v1.json()["version"]) == ("churn", 1)
    # Shutting the server down flushed the logger: every prediction is in the log.
    logged = ws.predictions.read(model="churn")
    rid = v1.json()["request_id"]
    assert len(logged) == 5
    assert rid in set(logged["request_id"])
    assert {f"{batch.json()['request_id']}:0", f"{batch.json()['request_id']}:1"} <= set(
        logged["request_id"]
    )
    row = logged[logged["request_id"] == rid].iloc[0]
    assert row["in_age"] == ROW["age"]
    assert int(row["version"]) == 1


def test_feedback_labels_join_logged_predictions_by_request_id(ws: Workspace) -> None:
    with running(build_app(ws, "churn@1")) as url, httpx.Client(base_url=url, timeout=10) as client:
        _wait_ready(client)
        rid = client.post("/v1/predict", json={"rows": [ROW]}).json()["request_id"]
        answer = client.post("/v1/feedback", json={"labels": [{"request_id": rid, "label": 0}]})
        kept = client.post("/v1/feedback", json={"labels": {rid: 1, "never-seen": 0}})
        again = client.post("/v1/feedback", json={"labels": {rid: 1}, "overwrite": True})
        bad = client.post("/v1/feedback", json={"labels": [{"label": 1}]})
    # Not logged yet, but answered by this server: accepted, not unknown.
    assert answer.json() == {"accepted": 1, "unknown": 0, "updated": 0, "kept": 0}
    # A label is replaced only on request; an id never answered is counted, not stored.
    assert kept.json() == {"accepted": 0, "unknown": 1, "updated": 0, "kept": 1}
    assert again.json()["updated"] == 1
    assert bad.status_code == 400
    frame = ws.predictions.read(model="churn")
    assert frame.loc[frame["request_id"] == rid, "label"].tolist() == [1]


def test_tampered_model_artifact_is_refused_at_load_and_the_server_never_turns_ready(
    ws: Workspace,
) -> None:
    registry = ws.models
    version = registry.get("churn@1")
    hashes = [entry["hash"] for entry in registry.manifest(version)["files"].values()]
    hashes += [version.onnx["hash"]] if version.onnx else []
    for digest in hashes:
        stored = ws.root / ".conveyor" / "artifacts" / "objects" / digest[:2] / digest[2:]
        stored.chmod(0o644)
        stored.write_bytes(b"evil")
    with running(build_app(ws, "churn@1")) as url, httpx.Client(base_url=url, timeout=10) as client:
        ready = _wait_ready(client)
        predict = client.post("/v1/predict", json={"rows": [ROW]})
    assert ready.status_code == 503
    assert "failed to load" in ready.json()["error"]
    assert "churn@1" in ready.json()["error"]
    assert predict.status_code == 503


def test_readiness_is_false_until_the_background_load_finishes() -> None:
    from serving_support import linear_model

    release = threading.Event()

    def slow_load():  # type: ignore[no-untyped-def]
        release.wait(10)
        return linear_model()

    app = create_app(ModelHost(), load=slow_load)
    with running(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        before = client.get("/v2/health/ready")
        live = client.get("/v2/health/live")
        early = client.post("/v1/predict", json={"rows": [ROW]})
        release.set()
        after = _wait_ready(client)
    assert before.status_code == 503
    assert live.status_code == 200
    assert early.status_code == 503
    assert after.status_code == 200


@pytest.mark.slow
def test_explain_returns_per_row_shap_values_for_the_rows_sent(ws: Workspace) -> None:
    with running(build_app(ws, "churn@1")) as url, httpx.Client(base_url=url, timeout=60) as client:
        _wait_ready(client)
        answer = client.post("/v1/explain", json={"rows": [ROW, {"age": 20.0, "spend": 10.0}]})
    body = answer.json()
    assert answer.status_code == 200, body
    assert len(body["explanations"]) == 2
    assert set(body["explanations"][0]) == {"age", "spend"}
    # The native estimator explains (SHAP's linear algorithm), not the ONNX twin.
    assert body["method"] == "linear"
    # spend drives the target: it carries the larger attribution.
    first = body["explanations"][0]
    assert abs(first["spend"]) > abs(first["age"])
    assert isinstance(pd.Series(body["base_values"]).iloc[0], float)


@pytest.mark.slow
def test_a_loaded_version_has_its_explainer_built_before_it_is_served(ws: Workspace) -> None:
    from conveyor.serving._launch import model_loader

    model = model_loader(ws, "churn@1")()  # what the server runs before it turns ready
    assert model.explainer is not None
    explainer = model.explainer.get()  # built by the loader: nothing is left to build
    assert explainer.explain(pd.DataFrame([ROW])).values.shape == (1, 2)


def test_a_served_process_settles_its_heap_after_the_load_and_releases_it_at_shutdown(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app ``conveyor serve`` runs freezes what is alive once its model is loaded (full
    collections then skip it) and unfreezes at shutdown; an app built in a user's process
    (``build_app``) leaves the collector alone."""
    from conveyor.serving import _launch

    monkeypatch.setenv(_launch.ENV_ROOT, str(ws.root))
    monkeypatch.setenv(_launch.ENV_MODEL, "churn@1")
    monkeypatch.setenv(_launch.ENV_ENVIRONMENT, "")
    gc.unfreeze()
    with (
        running(_launch.app_from_environment()) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        assert _wait_ready(client).status_code == 200
        assert gc.get_freeze_count() > 1000
        assert client.post("/v1/predict", json={"rows": [ROW]}).status_code == 200
    assert gc.get_freeze_count() == 0
    with (
        running(build_app(ws, "churn@1")) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        assert _wait_ready(client).status_code == 200
        assert gc.get_freeze_count() == 0


@pytest.mark.parametrize(("onnx", "platform"), [("1", "conveyor/onnx"), ("0", "conveyor/sklearn")])
def test_workers_serve_the_onnx_twin_or_the_native_model_as_serve_was_told(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, onnx: str, platform: str
) -> None:
    from conveyor.serving import _launch

    assert ws.models.get("churn@1").onnx, "the logistic regression has an ONNX twin"
    monkeypatch.setenv(_launch.ENV_ROOT, str(ws.root))
    monkeypatch.setenv(_launch.ENV_MODEL, "churn@1")
    monkeypatch.setenv(_launch.ENV_ENVIRONMENT, "")
    monkeypatch.setenv(_launch.ENV_ONNX, onnx)
    with (
        running(_launch.app_from_environment()) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        assert _wait_ready(client).status_code == 200
        assert client.get("/v2/models/churn").json()["platform"] == platform
