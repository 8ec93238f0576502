"""The one JSON policy, request-id checks, the recent-id memory, and the follower's log of
rollout transitions."""
# ruff: noqa: E501 - the transition tables read best one per line

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.deployments import Deployment, Transition, Variant
from conveyor.serving import (
    DeploymentFollower,
    InputColumn,
    InvalidValueError,
    MalformedRequestError,
    ModelHost,
    NonFiniteValueError,
    RequestError,
    ServedModel,
    ServingSettings,
)
from conveyor.serving._errors import InvalidRequestIdError
from conveyor.serving._inputs import from_records
from conveyor.serving._recent import RecentIds
from conveyor.serving._wire import check_request_id, parse_json

SETTINGS = ServingSettings()
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


@given(_json)
def test_every_json_value_within_the_policy_round_trips(value: Any) -> None:
    assert parse_json(orjson.dumps({"v": value}), SETTINGS) == {"v": value}


@given(st.binary(max_size=200) | _json.map(lambda v: orjson.dumps({"rows": [{"n": v}]})))
def test_any_bytes_are_parsed_or_refused_as_a_request_error(body: bytes) -> None:
    model = ServedModel("m", 1, object(), (InputColumn("n", "long", nullable=True),))  # type: ignore[arg-type]
    refused: RequestError | None = None
    try:
        payload = parse_json(body, SETTINGS)
        if isinstance(payload, dict) and isinstance(payload.get("rows"), list):
            from_records(model, payload["rows"], SETTINGS)
    except RequestError as exc:
        refused = exc
    if refused is not None:
        assert 400 <= refused.status < 500
        orjson.dumps({"error": refused.message, "code": refused.code})  # always encodable


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        (b'{"a": "\\ud800"}', MalformedRequestError, "lone surrogate"),
        (b'{"\\udfff": 1}', MalformedRequestError, "lone surrogate"),
        (b'{"a": "\\ud800", "b": NaN}', NonFiniteValueError, "NaN"),  # refused either way
        (b'{"a": "\xff"}', MalformedRequestError, "not UTF-8"),
        (b'{"a": 1' + b"0" * 400 + b"}", InvalidValueError, "401-digit integer"),
        (b'{"a": -9223372036854775809, "b": NaN}', NonFiniteValueError, "NaN"),
        (b'{"a": [18446744073709551616, Infinity]}', NonFiniteValueError, "Infinity"),
        (b'{"a": [18446744073709551616, 1e999999]}', InvalidValueError, "20-digit"),
        (b'{"a": 1' + b"0" * 5000 + b"}", MalformedRequestError, "not valid JSON"),
    ],
)
def test_bodies_outside_the_policy_are_refused_with_the_reason(
    body: bytes, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        parse_json(body, SETTINGS)


def test_integers_are_bounded_by_their_column_type() -> None:
    model = ServedModel("m", 1, object(), (InputColumn("n", "long"), InputColumn("x", "double")))  # type: ignore[arg-type]
    ok = from_records(model, [{"n": 2**63 - 1, "x": 2**64 - 1}], SETTINGS)
    assert ok.columns == {"n": [2**63 - 1], "x": [float(2**64 - 1)]}
    for bad in (2**63, -(2**63) - 1, 1.8446744073709552e19):
        with pytest.raises(InvalidValueError, match="64-bit integer range"):
            from_records(model, [{"n": bad, "x": 1.0}], SETTINGS)


@pytest.mark.parametrize("value", ["", "a" * 129, "a\r\nb", "ид", "\ud800", "a b", 7, None, ["a"]])
def test_request_ids_that_could_not_be_a_header_are_refused(value: Any) -> None:
    with pytest.raises(InvalidRequestIdError, match="Request id"):
        check_request_id(value, "the test")


def test_request_ids_the_server_issues_pass() -> None:
    for value in ("3f2a9c", "batch-1:12", "a.b_c:d-e", "x" * 128):
        assert check_request_id(value, "the test") == value


def test_recent_ids_remember_rows_of_batches_and_forget_the_oldest() -> None:
    recent = RecentIds(2)
    recent.add("one", 1)
    recent.add("batch", 3)
    assert "one" in recent
    assert "batch:0" in recent
    assert "batch:2" in recent
    assert "batch:3" not in recent
    assert "batch" not in recent  # a batch's rows are logged as <id>:<i>
    assert "one:0" not in recent
    recent.add("three", 1)
    assert "one" not in recent
    assert "three" in recent
    assert "x" not in RecentIds(0)


class _Constant:
    def predict(self, frame: Any) -> list[float]:
        return [1.0] * len(frame)


def test_the_follower_logs_every_transition_it_takes_up_with_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    champion, canary = Variant("churn", 1, "champion", 95), Variant("churn", 2, "challenger", 5)
    history = [
        Transition("production", 1, "deploy", None, "stable", (champion,), "deploy churn@1", "a", at),
        Transition("production", 2, "start", "stable", "progressing", (champion, canary), "canary churn@2 at 5%", "a", at),
        Transition("production", 3, "step_up", "progressing", "progressing", (champion, canary), "error rate 0.0 within 0.05", "a", at),
        Transition("production", 4, "rollback", "progressing", "stable", (champion,), "latency p95 412 ms exceeds 250 ms", "a", at),
    ]  # fmt: skip
    current = [
        Deployment("production", 1, "replace", "stable", (Variant("churn", 1, "champion", 100),))
    ]
    host = ModelHost()

    def load(name: str, version: int) -> ServedModel:
        return ServedModel(name, version, _Constant(), (InputColumn("age", "double"),))

    follower = DeploymentFollower(
        host, "production", lambda: current[0], load, history=lambda: history
    )
    with caplog.at_level(logging.INFO, logger="conveyor.serving"):
        assert follower.poll()
        current[0] = Deployment(
            "production", 4, "canary", "stable", (Variant("churn", 1, "champion", 100),)
        )
        assert follower.poll()
        assert not follower.poll()  # nothing new: nothing logged again
    lines = [r.getMessage() for r in caplog.records if "revision" in r.getMessage()]
    assert [line for line in lines if not line.startswith("Serving")] == [
        "Deployment 'production' revision 1: deploy (none -> stable): deploy churn@1",
        "Deployment 'production' revision 2: start (stable -> progressing): canary churn@2 at 5%",
        "Deployment 'production' revision 3: step_up (progressing -> progressing): error rate 0.0 within 0.05",
        "Deployment 'production' revision 4: rollback (progressing -> stable): latency p95 412 ms exceeds 250 ms",
    ]  # fmt: skip


def test_a_failure_no_handler_expected_is_still_one_json_answer() -> None:
    import asyncio

    import httpx

    from conveyor.serving import create_app

    class Broken:
        def pick(self, state: Any, request: Any) -> ServedModel | None:
            raise RuntimeError("router bug")

    host = ModelHost(Broken())
    host.add(ServedModel("m", 1, _Constant(), (InputColumn("age", "double"),)))

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(host), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://conveyor") as client:
            return await client.post("/v1/predict", json={"rows": [{"age": 1.0}]})

    answer = asyncio.run(ask())
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal_error"
    assert "router bug" not in answer.text
