"""The same prediction through conveyor's API, MLflow's payloads and KServe v2 (tritonclient)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import tritonclient.http as triton
from prometheus_client.parser import text_string_to_metric_families

from conveyor.serving import ModelHost, create_app

ROWS = [{"age": 30.0, "spend": 90.0}, {"age": 60.0, "spend": 5.0}]


def _expected(host: ModelHost) -> list[int]:
    model = host.state.models[("churn", 1)]
    x = np.array([[r["age"], r["spend"]] for r in ROWS])
    return [int(v) for v in model.predictor.predict_array(x)]  # type: ignore[attr-defined]


def test_v1_predict_answers_with_predictions_model_version_and_request_id(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(host))
    with httpx.Client(base_url=url, timeout=10) as client:
        response = client.post("/v1/predict", json={"rows": ROWS})
        columns = client.post(
            "/v1/predict", json={"columns": {k: [r[k] for r in ROWS] for k in ROWS[0]}}
        )
        mine = client.post(
            "/v1/predict", json={"rows": ROWS[:1]}, headers={"X-Request-Id": "abc-1"}
        )
    body = response.json()
    assert response.status_code == 200
    assert body["predictions"] == _expected(host) == [1, 0]
    assert (body["model"], body["version"]) == ("churn", 1)
    assert body["request_id"] == response.headers["x-request-id"]
    assert columns.json()["predictions"] == body["predictions"]
    assert mine.json()["request_id"] == "abc-1"


def test_every_mlflow_payload_format_gives_the_same_predictions(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(host))
    payloads = [
        {"dataframe_split": {"columns": ["age", "spend"], "data": [[30.0, 90.0], [60.0, 5.0]]}},
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"instances": [[30.0, 90.0], [60.0, 5.0]]},
        {"inputs": {"age": [30.0, 60.0], "spend": [90.0, 5.0]}},
        {"inputs": ROWS, "params": {"ignored": True}},
    ]
    with httpx.Client(base_url=url, timeout=10) as client:
        answers = [client.post("/invocations", json=p) for p in payloads]
    assert [a.status_code for a in answers] == [200] * len(payloads)
    assert all(a.json() == {"predictions": _expected(host)} for a in answers)


def test_tritonclient_infers_the_same_prediction_over_the_open_inference_protocol(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(host))
    client = triton.InferenceServerClient(url.removeprefix("http://"), network_timeout=10)
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("churn")
        metadata = client.get_model_metadata("churn")
        assert [i["name"] for i in metadata["inputs"]] == ["age", "spend"]
        inputs = []
        for name in ("age", "spend"):
            tensor = triton.InferInput(name, [2, 1], "FP64")
            tensor.set_data_from_numpy(np.array([[r[name]] for r in ROWS]), binary_data=False)
            inputs.append(tensor)
        result = client.infer("churn", inputs, model_version="1")
        # The binary tensor extension (tritonclient's default) carries the same values.
        matrix = triton.InferInput("x", [2, 2], "FP64")
        matrix.set_data_from_numpy(np.array([[30.0, 90.0], [60.0, 5.0]]), binary_data=True)
        binary = client.infer("churn", [matrix])
    finally:
        client.close()
    assert result.as_numpy("predict").tolist() == _expected(host)
    assert binary.as_numpy("predict").tolist() == _expected(host)


def test_v2_unknown_model_or_version_is_a_404_in_the_protocol_error_format(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(host))
    body = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]}
    with httpx.Client(base_url=url, timeout=10) as client:
        unknown = client.post("/v2/models/nope/infer", json=body)
        version = client.post("/v2/models/churn/versions/9/infer", json=body)
        ok = client.post("/v2/models/churn/versions/1/infer", json=body)
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": "Model nope is not served here. Served: churn@1.",
        "code": "model_not_served",  # beside OIP's "error", the code every route answers
    }
    assert version.status_code == 404
    assert "churn@9" in version.json()["error"]
    assert ok.status_code == 200
    assert ok.json()["model_version"] == "1"


def test_metrics_parse_with_prometheus_and_count_requests_by_status(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(host))
    with httpx.Client(base_url=url, timeout=10) as client:
        client.post("/v1/predict", json={"rows": ROWS})
        client.post("/v1/predict", json={"rows": [{"age": 1.0}]})
        text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = {
        (s.labels["model"], s.labels["version"], s.labels["status"]): s.value
        for s in families["conveyor_requests"].samples
        if s.name == "conveyor_requests_total"
    }
    assert requests[("churn", "1", "200")] == 1.0
    assert requests[("churn", "1", "400")] == 1.0
    assert "conveyor_request_duration_seconds" in families
    batch = [s for s in families["conveyor_batch_size"].samples if s.name.endswith("_sum")]
    assert batch[0].value == 2.0
