"""Every bad input of the issue's list is answered 4xx, and the next valid request succeeds."""
# ruff: noqa: E501 - the bad-input table reads best one case per line

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import linear_model, running

from conveyor.serving import ModelHost, ServingSettings, create_app

VALID = {"rows": [{"age": 30.0, "spend": 90.0}]}
JSON = {"content-type": "application/json"}


def _deep(depth: int) -> bytes:
    return b'{"rows": ' + b"[" * depth + b"]" * depth + b"}"


_BINARY_HEADER = (
    b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", '
    b'"parameters": {"binary_data_size": 16}}]}'
)


# (path, body bytes, headers, status, fragment of the error message)
BAD: list[tuple[str, str, bytes, dict[str, str], int, str]] = [
    ("malformed_json", "/v1/predict", b'{"rows": [', JSON, 400, "not valid JSON"),
    ("empty_body", "/v1/predict", b"", JSON, 400, "empty"),
    ("wrong_content_type", "/v1/predict", json.dumps(VALID).encode(), {"content-type": "text/plain"}, 415, "text/plain"),
    ("no_content_type", "/invocations", json.dumps(VALID).encode(), {}, 415, "(none)"),
    ("not_an_object", "/v1/predict", b"[1, 2]", JSON, 400, "Expected a JSON object"),
    ("no_rows_key", "/v1/predict", b'{"data": []}', JSON, 400, "'rows' or 'columns'"),
    ("missing_column", "/v1/predict", b'{"rows": [{"age": 1.0}]}', JSON, 400, "Missing column(s): spend"),
    ("misspelled_column", "/v1/predict", b'{"rows": [{"age": 1.0, "spnd": 2.0}]}', JSON, 400, "spend"),
    ("string_in_numeric", "/v1/predict", b'{"rows": [{"age": "30", "spend": 2.0}]}', JSON, 422, "Column 'age' expects double"),
    ("bool_in_numeric", "/v1/predict", b'{"rows": [{"age": true, "spend": 2.0}]}', JSON, 422, "'age'"),
    ("null_not_nullable", "/v1/predict", b'{"rows": [{"age": null, "spend": 2.0}]}', JSON, 422, "not nullable"),
    ("nested_value", "/v1/predict", b'{"rows": [{"age": [1, 2], "spend": 2.0}]}', JSON, 422, "a list"),
    ("nan_token", "/v1/predict", b'{"rows": [{"age": NaN, "spend": 2.0}]}', JSON, 422, "NaN"),
    ("infinity_token", "/v1/predict", b'{"rows": [{"age": Infinity, "spend": 2.0}]}', JSON, 422, "Infinity"),
    ("huge_number", "/v1/predict", b'{"rows": [{"age": 1e999, "spend": 2.0}]}', JSON, 422, "inf"),
    ("deeply_nested", "/v1/predict", _deep(5000), JSON, 400, "not valid JSON"),
    ("ragged_columns", "/v1/predict", b'{"columns": {"age": [1.0], "spend": [1.0, 2.0]}}', JSON, 400, "same length"),
    ("mlflow_two_formats", "/invocations", b'{"inputs": [], "instances": []}', JSON, 400, "exactly one"),
    ("mlflow_short_row", "/invocations", b'{"dataframe_split": {"columns": ["age", "spend"], "data": [[1.0]]}}', JSON, 400, "list of 2 values"),
    ("v2_negative_shape", "/v2/models/churn/infer", b'{"inputs": [{"name": "x", "shape": [-1, 2], "datatype": "FP64", "data": [1.0, 2.0]}]}', JSON, 400, "invalid shape"),
    ("v2_lying_shape", "/v2/models/churn/infer", b'{"inputs": [{"name": "x", "shape": [3, 2], "datatype": "FP64", "data": [1.0, 2.0]}]}', JSON, 400, "6 values) but 2"),
    ("v2_wrong_width", "/v2/models/churn/infer", b'{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]}', JSON, 400, "[rows, 2]"),
    ("v2_lying_binary", "/v2/models/churn/infer", _BINARY_HEADER + b"\0" * 8, {"inference-header-content-length": str(len(_BINARY_HEADER))}, 400, "does not match"),
    ("unknown_model", "/v2/models/other/infer", json.dumps(VALID).encode(), JSON, 404, "not served"),
    ("unknown_version", "/v2/models/churn/versions/7/infer", json.dumps(VALID).encode(), JSON, 404, "churn@7"),
]  # fmt: skip


@pytest.fixture(scope="module")
def shared_url() -> Iterator[str]:
    """One server for the whole bad-input list (each case also proves it still answers)."""
    host = ModelHost()
    host.add(linear_model())
    with running(create_app(host)) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "message"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_request_is_refused_with_a_clear_error_and_the_next_valid_one_succeeds(
    shared_url: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    with httpx.Client(base_url=shared_url, timeout=10) as client:
        bad = client.post(path, content=body, headers=headers)
        good = client.post("/v1/predict", json=VALID)
    assert bad.status_code == status, bad.text
    assert message in bad.json()["error"]
    assert bad.headers["content-type"] == "application/json"
    assert good.status_code == 200
    assert good.json()["predictions"] == [1]


def test_body_over_the_size_limit_is_413_even_without_content_length(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(host, settings=ServingSettings(max_body_bytes=1000)))
    big = json.dumps({"rows": [{"age": 1.0, "spend": 2.0}] * 100}).encode()

    def chunks() -> Any:
        yield big[:500]
        yield big[500:]

    with httpx.Client(base_url=url, timeout=10) as client:
        declared = client.post("/v1/predict", content=big, headers=JSON)
        streamed = client.post("/v1/predict", content=chunks(), headers=JSON)
        good = client.post("/v1/predict", json=VALID)
    assert declared.status_code == 413
    assert "the limit is 1000" in declared.json()["error"]
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "payload_too_large"
    assert good.status_code == 200


def test_batch_over_max_rows_is_400(host: ModelHost, serve: Callable[[Any], str]) -> None:
    url = serve(create_app(host, settings=ServingSettings(max_batch_rows=3)))
    with httpx.Client(base_url=url, timeout=10) as client:
        big = client.post("/v1/predict", json={"rows": VALID["rows"] * 4})
        ok = client.post("/v1/predict", json={"rows": VALID["rows"] * 3})
    assert big.status_code == 400
    assert big.json()["error"] == "The request holds 4 rows; at most 3 are accepted."
    assert ok.json()["predictions"] == [1, 1, 1]


def test_extra_columns_follow_the_configured_policy(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    row = {"age": 30.0, "spend": 90.0, "city": "Oslo"}
    lenient = serve(create_app(host))
    strict = serve(create_app(host, settings=ServingSettings(extra_columns="reject")))
    with httpx.Client(timeout=10) as client:
        ignored = client.post(f"{lenient}/v1/predict", json={"rows": [row]})
        refused = client.post(f"{strict}/v1/predict", json={"rows": [row]})
    assert ignored.json()["predictions"] == [1]
    assert refused.status_code == 400
    assert refused.json()["extra"] == ["city"]


def test_nan_policy_null_reads_nan_as_missing_only_in_nullable_columns(
    host: ModelHost, serve: Callable[[Any], str]
) -> None:
    url = serve(create_app(host, settings=ServingSettings(non_finite="null")))
    with httpx.Client(base_url=url, timeout=10) as client:
        answer = client.post(
            "/v1/predict", content=b'{"rows": [{"age": NaN, "spend": 2.0}]}', headers=JSON
        )
    # Neither column is nullable in this signature, so NaN read as null is still refused.
    assert answer.status_code == 422
    assert "'age'" in answer.json()["error"]


def test_a_pickle_sent_in_a_request_is_never_deserialized(
    host: ModelHost, serve: Callable[[Any], str], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (marker,))

    payload = pickle.dumps(Exploit())
    url = serve(create_app(host))
    with httpx.Client(base_url=url, timeout=10) as client:
        answers = [
            client.post(path, content=payload, headers={"content-type": ctype})
            for path in ("/v1/predict", "/invocations", "/v2/models/churn/infer")
            for ctype in (
                "application/python-pickle",
                "application/octet-stream",
                "application/json",
            )
        ]
        good = client.post("/v1/predict", json=VALID)
    assert all(400 <= a.status_code < 500 for a in answers)
    assert not marker.exists()
    assert good.status_code == 200
