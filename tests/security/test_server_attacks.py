"""Attacks on a real prediction server: every bad request is a 4xx JSON answer, the next good
request is served, and the server starts again on the same store and serves."""
# ruff: noqa: E501 - the attack table reads best one case per line

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from conveyor.serving import ServingSettings
from conveyor.serving._launch import SPILL_FOLDER, build_app
from conveyor.workspace import Workspace

pytestmark = pytest.mark.slow

GOOD_ROW = {"island": "Biscoe", "sex": "female", "bill_length_mm": 45.1, "year": 2008}
GOOD = {"rows": [GOOD_ROW]}
JSON = {"content-type": "application/json"}
SETTINGS = ServingSettings(prepare_explainers=False, body_timeout_s=2.0)


def _row(**changes: str) -> bytes:
    """The good row with raw JSON text substituted for some values."""
    fields = {key: json.dumps(value) for key, value in GOOD_ROW.items()} | changes
    inner = ", ".join(f'"{key}": {value}' for key, value in fields.items())
    return ('{"rows": [{' + inner + "}]}").encode()


def _v2(inputs: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"inputs": inputs, **extra}).encode()


def _column(name: str, datatype: str, value: Any) -> dict[str, Any]:
    return {"name": name, "shape": [1], "datatype": datatype, "data": [value]}


def _v2_columns(**replace: dict[str, Any]) -> list[dict[str, Any]]:
    types = {"island": "BYTES", "sex": "BYTES", "bill_length_mm": "FP64", "year": "INT64"}
    columns = {k: _column(k, types[k], v) for k, v in GOOD_ROW.items()}
    return list((columns | replace).values())


# (case, method, path, body, headers, status, code)
ATTACKS: list[tuple[str, str, str, bytes, dict[str, str], int, str]] = [
    ("lone_surrogate_in_string_column", "POST", "/v1/predict", _row(island='"\\ud800"'), JSON, 400, "malformed_request"),
    ("lone_surrogate_in_column_name", "POST", "/v1/predict", b'{"rows": [{"\\udc00": 1}]}', JSON, 400, "malformed_request"),
    ("lone_surrogate_mlflow", "POST", "/invocations", b'{"dataframe_records": [{"island": "\\ud800", "sex": "male", "bill_length_mm": 1.0, "year": 2008}]}', JSON, 400, "malformed_request"),
    ("not_utf8_body", "POST", "/v1/predict", _row(island='"X"').replace(b"X", b"\xff"), JSON, 400, "malformed_request"),
    ("utf16_body", "POST", "/v1/predict", json.dumps(GOOD).encode("utf-16"), JSON, 400, "malformed_request"),
    ("401_digit_number_in_double", "POST", "/v1/predict", _row(bill_length_mm="1" * 401), JSON, 422, "invalid_value"),
    ("2_to_64_plus_1_in_long", "POST", "/v1/predict", _row(year="18446744073709551617"), JSON, 422, "invalid_value"),
    ("2_to_63_in_long", "POST", "/v1/predict", _row(year="9223372036854775808"), JSON, 422, "invalid_value"),
    ("v2_id_not_latin1", "POST", "/v2/models/penguins/infer", _v2(_v2_columns(), id="ид-€"), JSON, 400, "invalid_request_id"),
    ("v2_id_crlf", "POST", "/v2/models/penguins/infer", _v2(_v2_columns(), id="a\r\nset-cookie: x=1"), JSON, 400, "invalid_request_id"),
    ("v2_id_not_a_string", "POST", "/v2/models/penguins/infer", _v2(_v2_columns(), id=[1]), JSON, 400, "invalid_request_id"),
    ("v2_5000_digit_version", "POST", "/v2/models/penguins/versions/" + "9" * 5000 + "/infer", _v2(_v2_columns()), JSON, 404, "model_not_served"),
    ("v2_5000_digit_version_metadata", "GET", "/v2/models/penguins/versions/" + "9" * 5000, b"", {}, 404, "model_not_served"),
    ("v2_superscript_version", "GET", "/v2/models/penguins/versions/%C2%B2", b"", {}, 404, "model_not_served"),
    ("v2_fp128", "POST", "/v2/models/penguins/infer", _v2(_v2_columns(bill_length_mm=_column("bill_length_mm", "FP128", 1.0))), JSON, 400, "invalid_datatype"),
    ("v2_bytes_for_double", "POST", "/v2/models/penguins/infer", _v2(_v2_columns(bill_length_mm=_column("bill_length_mm", "BYTES", "45.1"))), JSON, 400, "invalid_datatype"),
    ("v2_fp64_for_string", "POST", "/v2/models/penguins/infer", _v2(_v2_columns(island=_column("island", "FP64", 1.0))), JSON, 400, "invalid_datatype"),
    ("gzip_on_plain_body", "POST", "/v1/predict", json.dumps(GOOD).encode(), JSON | {"content-encoding": "gzip"}, 415, "unsupported_content_encoding"),
    ("unknown_encoding", "POST", "/v2/models/penguins/infer", _v2(_v2_columns()), JSON | {"content-encoding": "zstd-xyz"}, 415, "unsupported_content_encoding"),
    ("feedback_lone_surrogate_id", "POST", "/v1/feedback", b'{"labels": [{"request_id": "\\ud800", "label": 1}]}', JSON, 400, "malformed_request"),
    ("feedback_crlf_id", "POST", "/v1/feedback", b'{"labels": [{"request_id": "a\\r\\nb", "label": 1}]}', JSON, 400, "invalid_request_id"),
    ("feedback_huge_label", "POST", "/v1/feedback", b'{"labels": [{"request_id": "abc", "label": "' + b"x" * 5000 + b'"}]}', JSON, 400, "malformed_request"),
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _running(ws: Workspace) -> Iterator[httpx.Client]:
    """The workspace's server on a real uvicorn on 127.0.0.1, ready; stopped on exit."""
    port = _free_port()
    app = build_app(ws, "penguins@1", settings=SETTINGS)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            deadline = time.monotonic() + 120
            while True:
                if not thread.is_alive():
                    raise AssertionError("the server did not start")
                try:
                    ready = client.get("/v2/health/ready")
                except httpx.TransportError:
                    ready = None
                if ready is not None and ready.status_code == 200:
                    break
                assert time.monotonic() < deadline, "the server never turned ready"
                time.sleep(0.05)
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace serving penguins@1: strings, a double and a long column (real data)."""
    from palmerpenguins import load_penguins
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = load_penguins().dropna()
    features = frame[["island", "sex", "bill_length_mm", "year"]]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["island", "sex"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=2000),
    ).fit(features, frame["species"])
    with Workspace.open(tmp_path_factory.mktemp("attacks"), env={}) as workspace:
        workspace.models.register("penguins", model, input_example=features.head(20))
        yield workspace


def _good(client: httpx.Client) -> None:
    answer = client.post("/v1/predict", json=GOOD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] in (["Adelie"], ["Gentoo"], ["Chinstrap"])
    assert answer.headers["x-conveyor-model-version"] == "penguins@1"


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [case[1:] for case in ATTACKS],
    ids=[case[0] for case in ATTACKS],
)
def test_a_bad_request_is_a_4xx_json_answer_and_the_server_serves_and_starts_again(
    ws: Workspace,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    with _running(ws) as client:
        answer = client.request(method, path, content=body or None, headers=headers)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["code"] == code
        assert answer.json()["error"]
        assert "\r" not in answer.headers.get("x-request-id", "")
        _good(client)
    with _running(ws) as client:  # the logged batch replays; nothing stops a restart
        _good(client)
    spill = ws.root / SPILL_FOLDER
    assert not spill.exists() or not [p for p in spill.iterdir() if p.name != "quarantine"]


def test_a_planted_spill_file_that_is_not_utf8_is_quarantined_and_the_server_starts(
    ws: Workspace,
) -> None:
    spill = ws.root / SPILL_FOLDER
    spill.mkdir(parents=True, exist_ok=True)
    planted = b'{"request_id": "\xff\xfe", "at": "2026-01-01T00:00:00+00:00"}\n\x80\x81\n'
    (spill / "spill-1-1-planted.jsonl").write_bytes(planted)
    surrogate = json.dumps(
        {
            "request_id": "r-surrogate",
            "at": "2026-01-01T00:00:00+00:00",
            "model": "penguins",
            "version": 1,
            "environment": None,
            "variant": None,
            "revision": None,
            "latency_ms": 1.0,
            "inputs": {"island": "\ud800"},
            "prediction": "Adelie",
        }
    )
    (spill / "spill-1-2-surrogate.jsonl").write_text(surrogate + "\n", encoding="ascii")
    with _running(ws) as client:
        _good(client)
    quarantined = b"".join(p.read_bytes() for p in (spill / "quarantine").iterdir())
    assert b"\xff\xfe" in quarantined
    assert b"r-surrogate" in quarantined
    assert sorted(p.name for p in spill.iterdir()) == ["quarantine"]
    with _running(ws) as client:  # and again: nothing left to trip on
        _good(client)


def test_a_body_sent_at_one_byte_per_second_is_cut_off_with_408(ws: Workspace) -> None:
    with _running(ws) as client:
        port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
        body = json.dumps(GOOD).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            answer = b""
            for byte in body:  # 1 byte/s: the server gives up long before the end
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                sock.settimeout(1.0)
                try:
                    answer += sock.recv(65536)
                except TimeoutError:
                    continue
                if b"\r\n\r\n" in answer:
                    break
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer
        assert b'"code":"request_timeout"' in payload
        _good(client)
