"""``/v1/feedback`` exposed to whoever can predict: labels only for ids the server answered,
no silent overwrite, bounded requests, and a locked database answered 503 with Retry-After."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from conveyor.serving import ServingSettings
from conveyor.serving._launch import build_app
from conveyor.workspace import Workspace

pytestmark = pytest.mark.slow

COLUMNS = ["mean radius", "mean texture", "mean area"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _running(ws: Workspace, settings: ServingSettings) -> Iterator[httpx.Client]:
    port = _free_port()
    app = build_app(ws, "cancer@1", settings=settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert thread.is_alive(), "the server did not start"
                assert time.monotonic() < deadline, "the server never turned ready"
                time.sleep(0.05)
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace serving cancer@1, a logistic regression on three real columns."""
    data = load_breast_cancer(as_frame=True)
    frame = data.frame[COLUMNS]
    model = LogisticRegression(max_iter=5000).fit(frame, data.target)
    env = {"CONVEYOR_STORE__BUSY_TIMEOUT_S": "0.5"}
    with Workspace.open(tmp_path, env=env) as workspace:
        workspace.models.register("cancer", model, input_example=frame.head(20), onnx=False)
        yield workspace


def _row() -> dict[str, list[dict[str, float]]]:
    return {"rows": [{"mean radius": 14.1, "mean texture": 19.3, "mean area": 654.9}]}


def _feedback_rows(ws: Workspace) -> int:
    with sqlite3.connect(ws.root / ".conveyor" / "conveyor.db") as db:
        count: int = db.execute("SELECT count(*) FROM feedback").fetchone()[0]
        return count


def test_200000_labels_for_unknown_ids_are_counted_and_do_not_grow_the_database(
    ws: Workspace,
) -> None:
    settings = ServingSettings(prepare_explainers=False)
    with _running(ws, settings) as client:
        rid = client.post("/v1/predict", json=_row()).json()["request_id"]
        answered = client.post("/v1/feedback", json={"labels": {rid: 1}})
        assert answered.json() == {"accepted": 1, "unknown": 0, "updated": 0, "kept": 0}
        database = ws.root / ".conveyor" / "conveyor.db"
        size = database.stat().st_size + (database.with_name("conveyor.db-wal").stat().st_size)
        unknown = 0
        for batch in range(20):
            labels = {f"made-up-{batch}-{i}": i % 2 for i in range(10_000)}
            answer = client.post("/v1/feedback", json={"labels": labels})
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 0
            unknown += answer.json()["unknown"]
        grown = database.stat().st_size + database.with_name("conveyor.db-wal").stat().st_size
    assert unknown == 200_000
    assert _feedback_rows(ws) == 1
    assert grown - size < 64 * 1024  # nothing of the flood was stored
    frame = ws.predictions.read(model="cancer")
    assert frame.loc[frame["request_id"] == rid, "label"].tolist() == [1]  # joined later


def test_a_label_is_overwritten_only_on_request_and_batches_are_bounded(ws: Workspace) -> None:
    settings = ServingSettings(prepare_explainers=False, max_feedback_labels=100)
    with _running(ws, settings) as client:
        batch = client.post("/v1/predict", json={"rows": _row()["rows"] * 3}).json()
        rid = f"{batch['request_id']}:2"  # the third row of a batch request
        first = client.post("/v1/feedback", json={"labels": [{"request_id": rid, "label": 0}]})
        second = client.post("/v1/feedback", json={"labels": {rid: 1}})
        third = client.post("/v1/feedback", json={"labels": {rid: 1}, "overwrite": True})
        beyond = client.post("/v1/feedback", json={"labels": {batch["request_id"] + ":3": 1}})
        many = client.post("/v1/feedback", json={"labels": {f"id{i}": 1 for i in range(101)}})
        odd = client.post("/v1/feedback", json={"labels": {rid: 1}, "overwrite": "yes"})
    assert first.json() == {"accepted": 1, "unknown": 0, "updated": 0, "kept": 0}
    assert second.json() == {"accepted": 0, "unknown": 0, "updated": 0, "kept": 1}
    assert third.json() == {"accepted": 1, "unknown": 0, "updated": 1, "kept": 0}
    assert beyond.json()["unknown"] == 1  # the batch had three rows, not four
    assert (many.status_code, many.json()["code"]) == (400, "malformed_request")
    assert "at most 100" in many.json()["error"]
    assert (odd.status_code, odd.json()["code"]) == (400, "malformed_request")
    frame = ws.predictions.read(model="cancer")
    assert frame.loc[frame["request_id"] == rid, "label"].tolist() == [1]


def test_feedback_while_the_database_is_locked_is_503_with_retry_after_and_no_path(
    ws: Workspace,
) -> None:
    settings = ServingSettings(prepare_explainers=False)
    with _running(ws, settings) as client:
        rid = client.post("/v1/predict", json=_row()).json()["request_id"]
        locker = sqlite3.connect(ws.root / ".conveyor" / "conveyor.db", isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            busy = client.post("/v1/feedback", json={"labels": {rid: 1}})
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        again = client.post("/v1/feedback", json={"labels": {rid: 1}})
    assert busy.status_code == 503, busy.text
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["code"] == "store_busy"
    assert str(ws.root) not in busy.text
    assert "conveyor.db" not in busy.text
    assert again.json()["accepted"] == 1
