"""Arrow IPC and Parquet request bodies on a real server: every hostile body is answered 4xx
with a message naming what was wrong, and the server keeps answering; a valid table predicts
what the same rows sent as JSON predict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
from serving_support import (
    AGES,
    ARROW,
    PARQUET,
    SPENDS,
    ipc,
    linear_model,
    parquet,
    running,
    valid,
)

from conveyor.serving import ModelHost, ServingSettings, create_app

SETTINGS = ServingSettings(max_batch_rows=1000, max_body_bytes=2**21, log_predictions=False)


def _non_utf8_name() -> bytes:
    body = ipc(pa.table({"agé": [1.0], "spend": [2.0]}))
    return body.replace("agé".encode(), b"ag\xff\xfe")


def _bomb(rows: int) -> pa.Table:
    """One 1 MB string, indexed by every row: a small body decoding to rows MB."""
    spend = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * 1_000_000])
    )
    return pa.table({"age": np.zeros(rows), "spend": spend})


def _many_rows() -> bytes:
    """Ten million rows in about 100 kB: the footer's count refuses them before any page."""
    zeros = np.zeros(10_000_000)
    return parquet(pa.table({"age": zeros, "spend": zeros}), compression="zstd")


# (id, content-type headers, body builder, status, code, fragment of the message)
BAD: list[tuple[str, dict[str, str], Callable[[], bytes], int, str, str]] = [
    (
        "arrow_truncated",
        ARROW,
        lambda: ipc(valid())[:-40],
        400,
        "malformed_request",
        "not a readable Arrow IPC stream",
    ),
    (
        "arrow_garbage",
        ARROW,
        lambda: b"\xff\xff\xff\xff" + bytes(range(256)) * 4,
        400,
        "malformed_request",
        "not a readable Arrow IPC stream",
    ),
    (
        "arrow_json_sent_as_arrow",
        ARROW,
        lambda: b'{"rows": [{"age": 1.0, "spend": 2.0}]}',
        400,
        "malformed_request",
        "not a readable Arrow IPC stream",
    ),
    ("arrow_empty", ARROW, lambda: b"", 400, "malformed_request", "empty"),
    (
        "parquet_truncated",
        PARQUET,
        lambda: parquet(valid())[:-20],
        400,
        "malformed_request",
        "not a readable Parquet file",
    ),
    (
        "parquet_corrupt_pages",
        PARQUET,
        lambda: b"PAR1" + b"\x00" * 200 + parquet(valid())[-60:],
        400,
        "malformed_request",
        "not a readable Parquet file",
    ),
    ("parquet_huge_row_count", PARQUET, _many_rows, 400, "too_many_rows", "10000000 rows"),
    (
        "arrow_dictionary_bomb",
        ARROW,
        lambda: ipc(_bomb(1000)),
        413,
        "payload_too_large",
        "decodes to",
    ),
    (
        "parquet_dictionary_bomb",
        PARQUET,
        lambda: parquet(_bomb(1000), compression="zstd"),
        413,
        "payload_too_large",
        "decodes to",
    ),
    (
        "struct_column",
        ARROW,
        lambda: ipc(pa.table({"age": pa.array([{"a": 1.0}]), "spend": [1.0]})),
        400,
        "malformed_request",
        "nested Arrow type struct",
    ),
    (
        "list_column",
        PARQUET,
        lambda: parquet(pa.table({"age": [[1.0, 2.0]], "spend": [1.0]})),
        400,
        "malformed_request",
        "nested Arrow type list",
    ),
    (
        "string_for_double",
        ARROW,
        lambda: ipc(pa.table({"age": ["30"], "spend": [1.0]})),
        422,
        "invalid_value",
        "Column 'age' expects double; got '30' (a string)",
    ),
    (
        "bool_for_double",
        PARQUET,
        lambda: parquet(pa.table({"age": [True], "spend": [1.0]})),
        422,
        "invalid_value",
        "Column 'age' expects double; got True (a boolean)",
    ),
    (
        "nan_in_double",
        ARROW,
        lambda: ipc(pa.table({"age": [1.0, float("nan")], "spend": [1.0, 2.0]})),
        422,
        "non_finite_value",
        "NaN and Infinity are not accepted",
    ),
    (
        "null_in_double",
        ARROW,
        lambda: ipc(pa.table({"age": [1.0, None], "spend": [1.0, 2.0]})),
        422,
        "invalid_value",
        "the column is not nullable",
    ),
    (
        "zero_rows",
        ARROW,
        lambda: ipc(valid().slice(0, 0)),
        400,
        "malformed_request",
        "holds 0 rows",
    ),
    (
        "zero_rows_parquet",
        PARQUET,
        lambda: parquet(valid().slice(0, 0)),
        400,
        "malformed_request",
        "holds 0 rows",
    ),
    (
        "too_many_rows",
        ARROW,
        lambda: ipc(pa.table({"age": np.ones(1001), "spend": np.ones(1001)})),
        400,
        "too_many_rows",
        "1001 rows; at most 1000",
    ),
    (
        "missing_column",
        PARQUET,
        lambda: parquet(pa.table({"age": [1.0]})),
        400,
        "missing_columns",
        "Missing column(s): spend",
    ),
    (
        "duplicate_column",
        ARROW,
        lambda: ipc(pa.Table.from_arrays([pa.array([1.0]), pa.array([2.0])], names=["age", "age"])),
        400,
        "malformed_request",
        "more than once",
    ),
    (
        "non_utf8_column_name",
        ARROW,
        _non_utf8_name,
        400,
        "malformed_request",
        "not a readable Arrow IPC stream",
    ),
    (
        "arrow_on_explain",
        ARROW,
        lambda: ipc(valid()),
        415,
        "unsupported_media_type",
        "is not accepted",
    ),
]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    host = ModelHost()
    host.add(linear_model())
    with (
        running(create_app(host, settings=SETTINGS)) as url,
        httpx.Client(base_url=url, timeout=30) as opened,
    ):
        yield opened


@pytest.mark.parametrize(
    ("headers", "build", "status", "code", "fragment"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
def test_hostile_table_bodies_are_refused_and_the_server_keeps_answering(
    client: httpx.Client,
    path: str,
    headers: dict[str, str],
    build: Callable[[], bytes],
    status: int,
    code: str,
    fragment: str,
) -> None:
    body = build()
    target = "/v1/explain" if code == "unsupported_media_type" else path
    answer = client.post(target, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["code"] == code
    assert fragment in error["error"]
    assert error.get("hint")
    after = client.post(path, content=ipc(valid()), headers=ARROW)
    assert after.status_code == 200, after.text


@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
def test_arrow_and_parquet_bodies_predict_what_json_rows_predict(
    client: httpx.Client, path: str
) -> None:
    rows = [{"age": a, "spend": s} for a, s in zip(AGES, SPENDS, strict=True)]
    if path == "/v1/predict":
        expected = client.post(path, json={"rows": rows}).json()["predictions"]
    else:
        expected = client.post(path, json={"dataframe_records": rows}).json()["predictions"]
    for headers, body in ((ARROW, ipc(valid())), (PARQUET, parquet(valid()))):
        answer = client.post(path, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected
        assert answer.headers["content-type"] == "application/json"


def test_integer_and_float32_columns_are_read_as_doubles(client: httpx.Client) -> None:
    table = pa.table(
        {
            "age": pa.array([30, 45, 61], type=pa.int16()),
            "spend": pa.array([90.0, 10.0, 55.0], type=pa.float32()),
        }
    )
    as_json = client.post(
        "/v1/predict", json={"columns": {"age": [30, 45, 61], "spend": SPENDS}}
    ).json()
    answer = client.post("/v1/predict", content=ipc(table), headers=ARROW)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == as_json["predictions"]


@pytest.mark.parametrize("path", ["/v1/predict", "/invocations"])
def test_an_arrow_answer_on_request(client: httpx.Client, path: str) -> None:
    expected = client.post(path, content=ipc(valid()), headers=ARROW).json()["predictions"]
    for headers, body in ((ARROW, ipc(valid())), (PARQUET, parquet(valid()))):
        answer = client.post(
            path,
            content=body,
            headers={**headers, "accept": "application/vnd.apache.arrow.stream"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/vnd.apache.arrow.stream"
        assert answer.headers["x-conveyor-model-version"] == "churn@1"
        assert answer.headers["x-request-id"]
        table = pa.ipc.open_stream(answer.content).read_all()
        assert table.column_names == ["prediction"]
        assert table.column("prediction").to_pylist() == expected
    # A refused body is still answered in JSON, whatever the client accepts.
    refused = client.post(
        path,
        content=b"not arrow",
        headers={**ARROW, "accept": "application/vnd.apache.arrow.stream"},
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "malformed_request"


def test_a_table_body_is_routed_by_its_first_row_like_json(tmp_path: Any) -> None:
    from conveyor.deployments import Deployment, Variant
    from conveyor.serving import DeploymentFollower, DeploymentRouter

    models = {("churn", 1): linear_model(version=1), ("churn", 2): linear_model(version=2)}
    target = Deployment(
        environment="production",
        revision=1,
        strategy="canary",
        state="progressing",
        variants=(Variant("churn", 1, "a", 50), Variant("churn", 2, "b", 50)),
        params={"sticky_key": "column:age"},
    )
    host = ModelHost(DeploymentRouter())
    follower = DeploymentFollower(
        host, "production", lambda: target, lambda n, v: models[(n, v)], interval_s=0.02
    )
    app = create_app(
        host,
        settings=ServingSettings(environment="production", log_predictions=False),
        on_start=[follower.start],
        on_close=[follower.stop],
    )
    follower.poll()
    with running(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        versions: dict[str, set[int]] = {"json": set(), "arrow": set(), "parquet": set()}
        for age in range(20, 60):
            table = pa.table({"age": [float(age), 1.0], "spend": [50.0, 2.0]})
            sent = {
                "json": client.post("/v1/predict", json={"columns": table.to_pydict()}).json()[
                    "version"
                ],
                "arrow": client.post("/v1/predict", content=ipc(table), headers=ARROW).json()[
                    "version"
                ],
                "parquet": client.post(
                    "/v1/predict", content=parquet(table), headers=PARQUET
                ).json()["version"],
            }
            assert len(set(sent.values())) == 1, (age, sent)
            for key, version in sent.items():
                versions[key].add(version)
    assert versions["arrow"] == {1, 2}
