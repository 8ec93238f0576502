"""A client writing through the control plane loses nothing and doubles nothing when the
server goes away: while it is stopped and started again on the same port, and when it dies
after a write committed but before the answer left."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.api import create_app
from conveyor.core import Actor
from conveyor.remote import RemoteClient, rest_records
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.testing.records._tracking import sample_run
from conveyor.tracking import BaseRunRecords, MetricValue, SqlRunRecords
from conveyor.workspace import Workspace
from server_support import free_port, serve_app

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

T0 = datetime(2024, 5, 1, tzinfo=UTC)
TOTAL = 300
BATCH = 10
RUN_ID = "f" * 32
LOG_METRICS = "/api/v1/records/run/log_metrics"


@pytest.fixture
def ws(metadata_url: str, tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.open(tmp_path / "served", env={"CONVEYOR_METADATA_URL": metadata_url}) as w:
        yield w


@pytest.fixture
def token(ws: Workspace) -> str:
    secret, _ = Tokens(SqlTokenRecords(ws.store)).create(
        "writer", "developer", actor=Actor(name="admin")
    )
    return secret


class CountingTransport(httpx.HTTPTransport):
    """The network, counting the attempts that got no answer (what the client retried)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.TransportError as exc:
            self.failures.append(type(exc).__name__)
            raise


def _batches() -> list[list[MetricValue]]:
    values: list[MetricValue] = [
        ("loss", 1.0 / (i + 1), i, T0 + timedelta(milliseconds=i)) for i in range(TOTAL)
    ]
    return [values[i : i + BATCH] for i in range(0, TOTAL, BATCH)]


def _assert_stored_once(ws: Workspace) -> None:
    stored = SqlRunRecords(ws.store).metrics(RUN_ID, "loss")
    assert [p.step for p in stored] == list(range(TOTAL))  # none lost, none doubled, in order
    assert [p.value for p in stored] == [1.0 / (i + 1) for i in range(TOTAL)]
    writes = ws.store.audit_log(action="run.metrics")
    assert len(writes) == TOTAL // BATCH  # one write per batch, each applied once
    assert ws.store.verify_audit().ok


def _client(url: str, token: str, transport: httpx.BaseTransport) -> RemoteClient:
    return RemoteClient(url, token, retries=20, backoff_s=0.05, transport=transport)


@pytest.mark.slow
def test_a_server_stopped_and_started_again_loses_and_doubles_nothing(
    ws: Workspace, token: str
) -> None:
    port = free_port()
    halfway = threading.Event()
    stopped = threading.Event()
    errors: list[BaseException] = []
    transport = CountingTransport()

    first: AbstractContextManager[Any] = serve_app(create_app(ws), port)
    url, _ = first.__enter__()
    client = _client(url, token, transport)
    runs = rest_records(BaseRunRecords, client)

    def write() -> None:
        try:
            runs.create_run(Actor(name="ignored"), sample_run(RUN_ID))
            batches = _batches()
            for number, batch in enumerate(batches):
                if number == len(batches) // 2:
                    halfway.set()
                    # The next batch goes out only once the server is gone.
                    assert stopped.wait(60), "the server was never stopped"
                runs.log_metrics(Actor(name="ignored"), RUN_ID, batch)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    second: AbstractContextManager[Any] | None = None
    try:
        assert halfway.wait(60), "the client never got halfway"
        first.__exit__(None, None, None)
        stopped.set()
        threading.Event().wait(0.5)  # the client retries against a closed port meanwhile
        second = serve_app(create_app(ws), port)
        assert second.__enter__()[0] == url
        writer.join(120)
        assert not writer.is_alive()
    finally:
        stopped.set()
        writer.join(60)
        client.close()
        if second is not None:
            second.__exit__(None, None, None)

    assert errors == []
    assert transport.failures, "the client never met the stopped server"
    _assert_stored_once(ws)


class DropAfterCommit:
    """ASGI middleware: for the ``drop``-th write to ``path``, let the app run to the end
    (the change commits), then cut the connection instead of answering."""

    def __init__(self, app: ASGIApp, *, path: str, drop: int) -> None:
        self.app = app
        self.path = path
        self.drop = drop
        self.seen = 0
        self.keys: list[str] = []
        self.dropped_key: str | None = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key", b"").decode()
        self.keys.append(key)
        self.seen += 1
        if self.seen != self.drop:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)  # the write is applied and committed here
        assert held[0]["status"] == 200
        self.dropped_key = key
        # Start the answer, then fail: uvicorn closes the connection mid-answer, so the
        # client sees the write sent and no answer, as if the server died right here.
        await send(held[0])
        raise ConnectionAbortedError("dropped after the write committed")


@pytest.mark.slow
def test_a_write_whose_answer_was_lost_is_applied_once(ws: Workspace, token: str) -> None:
    middleware = DropAfterCommit(create_app(ws), path=LOG_METRICS, drop=7)
    with serve_app(middleware) as (url, _):
        client = _client(url, token, httpx.HTTPTransport())
        try:
            runs = rest_records(BaseRunRecords, client)
            runs.create_run(Actor(name="ignored"), sample_run(RUN_ID))
            for batch in _batches():
                runs.log_metrics(Actor(name="ignored"), RUN_ID, batch)
        finally:
            client.close()

    assert middleware.dropped_key
    # The retry carried the key of the write it repeats, so the server answered it from
    # the stored outcome instead of applying the batch again.
    assert middleware.keys.count(middleware.dropped_key) == 2
    assert len(middleware.keys) == TOTAL // BATCH + 1
    _assert_stored_once(ws)
