"""Hostile input to the control plane's records routes, with an admin token.

Names that look like paths, hold NUL or right-to-left marks, imitate other letters or run
to 10,000 characters; numbers past any column; broken JSON and bytes; bodies over
``server.max_request_mb``; malformed ``Idempotency-Key`` headers: each gets a 4xx JSON
error, never a 5xx, and the server answers ``/api/v1/health`` after every one. A keyed
write sent twice is applied once, and two clients registering versions of one model at
once get contiguous numbers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conveyor.registry import BaseModelRecords
from conveyor.remote import RemoteClient, method_specs, rest_records
from conveyor.testing.records._registry import sample_version
from conveyor.workspace import Workspace
from server_support import Server, control_plane

RECORDS = "/api/v1/records"
LIMIT_BYTES = 64 * 1024  # server.max_request_mb below

HOSTILE_NAMES = [
    "../../etc/passwd",
    "..",
    "a/b",
    "C:\\Windows\\system32",
    "churn\x00evil",
    "\x00",
    "churn\u202egnp.exe",  # right-to-left override
    "\u0441hurn",  # Cyrillic es, looks like "churn"
    "churn\u200b",  # zero-width space
    "\uff43\uff48\uff55\uff52\uff4e",  # fullwidth "churn"
    "a" * 10_000,
    "",
    " ",
    "churn\n",
    "%2e%2e%2f",
    "\ud800",  # a lone surrogate, escaped in JSON
]

#: Records routes and the body naming ``name`` in the field each reads.
READS = {
    "model/get_version": lambda name: {"ref": {"name": name}},
    "model/list_versions": lambda name: {"name": name},
    "model/history": lambda name: {"name": name},
    "dataset/versions": lambda name: {"name": name},
    "dataset/find_version": lambda name: {"name": name, "version": 1},
    "run/get_run": lambda name: {"run_id": name},
    "run/metrics": lambda name: {"run_id": name},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A control plane over a project whose JSON bodies are limited to 64 KiB."""
    root: Path = tmp_path_factory.mktemp("hostile")
    (root / "conveyor.yaml").write_text(f"server:\n  max_request_mb: {LIMIT_BYTES / 2**20}\n")
    with Workspace.open(root) as ws:
        assert ws.settings.config.server.max_request_mb * 2**20 == LIMIT_BYTES
        with control_plane(ws) as opened:
            yield opened


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    secret = server.token("hostile-admin", "admin")
    with httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {secret}"}, timeout=60
    ) as client:
        yield client


def _refused(answer: httpx.Response, client: httpx.Client) -> dict[str, Any]:
    """Assert ``answer`` is a 4xx JSON error and the server still answers; return it."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    assert isinstance(body.get("error"), str)
    assert isinstance(body.get("code"), str)
    assert body["code"] != "internal_error"
    assert client.get("/api/v1/health").status_code == 200
    return body


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()  # escapes a lone surrogate as \ud800 (orjson refuses it)


@pytest.mark.parametrize("route", sorted(READS))
@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_in_reads_get_a_4xx(admin: httpx.Client, route: str, name: str) -> None:
    answer = admin.post(
        f"{RECORDS}/{route}",
        content=_json(READS[route](name)),
        headers={"content-type": "application/json"},
    )
    if answer.status_code == 200:  # "no such thing" is a fine answer to a read...
        result = answer.json()["result"]
        assert result in ([], None), (route, result)  # ...but nothing may match
        assert admin.get("/api/v1/health").status_code == 200
        return
    body = _refused(answer, admin)
    assert "\x00" not in body["error"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_model_names_are_not_registered(
    server: Server, admin: httpx.Client, name: str
) -> None:
    spec = method_specs(BaseModelRecords)["insert_version"]
    body = orjson.loads(
        spec.encode_call({"name": "x", "new": sample_version(), "model_description": None})
    )
    body["name"] = name
    answer = admin.post(
        f"{RECORDS}/model/insert_version",
        content=_json(body),
        headers={"content-type": "application/json"},
    )
    _refused(answer, admin)
    listed = admin.post(f"{RECORDS}/model/list_models", json={})
    assert name not in [m["name"] for m in listed.json()["result"]]


@pytest.mark.parametrize("version", [10**30, -(10**30), 2**63, 2**31, -1, 0])
def test_out_of_range_version_numbers_get_a_4xx(admin: httpx.Client, version: int) -> None:
    for route, body in (
        ("model/get_version", {"ref": {"name": "churn", "version": version}}),
        ("dataset/find_version", {"name": "churn", "version": version}),
    ):
        answer = admin.post(
            f"{RECORDS}/{route}", content=_json(body), headers={"content-type": "application/json"}
        )
        if answer.status_code == 200:  # a number that fits a column may just find nothing
            assert answer.json()["result"] is None, (route, version)
            assert -(2**63) <= version < 2**63
            continue
        refusal = _refused(answer, admin)
        if not -(2**63) <= version < 2**63:
            assert refusal["code"] in ("number_out_of_range", "invalid_request")


BAD_BODIES = {
    "not-json": b"{not json",
    "truncated": b'{"name": "churn"',
    "invalid-utf8": b'{"name": "\xff\xfe churn"}',
    "array": b"[1, 2, 3]",
    "string": b'"churn"',
    "null-byte": b'{"name": "churn"}\x00',
    "nested": b"[" * 5000 + b"]" * 5000,
    "wrong-type": b'{"name": 12}',
    "extra-field": b'{"name": "churn", "actor": {"name": "root", "kind": "user"}}',
}


@pytest.mark.parametrize("route", ["dataset/versions", "model/insert_version"])
@pytest.mark.parametrize("kind", sorted(BAD_BODIES))
def test_broken_bodies_get_a_4xx(admin: httpx.Client, route: str, kind: str) -> None:
    answer = admin.post(
        f"{RECORDS}/{route}",
        content=BAD_BODIES[kind],
        headers={"content-type": "application/json"},
    )
    if kind == "extra-field" and route == "dataset/versions":
        # an unknown field is ignored; the actor is never taken from the body
        assert answer.status_code == 200, answer.text
        return
    _refused(answer, admin)


def test_a_body_over_the_limit_gets_413(admin: httpx.Client) -> None:
    big = _json({"name": "a" * (LIMIT_BYTES + 10)})
    declared = admin.post(
        f"{RECORDS}/dataset/versions", content=big, headers={"content-type": "application/json"}
    )
    assert _refused(declared, admin)["code"] == "payload_too_large"
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no content-length: counted as it arrives
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = admin.post(
        f"{RECORDS}/dataset/versions",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    _refused(streamed, admin)
    under = admin.post(f"{RECORDS}/dataset/versions", json={"name": "a" * 1000})
    assert under.status_code == 200


def test_a_chunked_body_over_the_limit_gets_413(admin: httpx.Client) -> None:
    big = _json({"name": "a" * (LIMIT_BYTES + 10)})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = admin.post(
        f"{RECORDS}/dataset/versions",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413, streamed.text


BAD_KEYS = [
    "short",
    "a" * 129,
    "a" * 300,
    "a" * 5000,
    "key with spaces",
    "ключ-ключ-ключ",
    "key/../../x",
    "key;drop table",
    "key\tkey\tkey",
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=range(len(BAD_KEYS)))
def test_a_malformed_idempotency_key_gets_400(
    server: Server, admin: httpx.Client, key: str
) -> None:
    before = len(server.ws.store.audit_log())
    spec = method_specs(BaseModelRecords)["insert_version"]
    body = spec.encode_call({"name": "keyed", "new": sample_version(), "model_description": None})
    answer = admin.post(
        f"{RECORDS}/model/insert_version",
        content=body,
        headers={"content-type": "application/json", "idempotency-key": key.encode("utf-8")},
    )
    assert answer.status_code == 400, answer.text
    assert _refused(answer, admin)["code"] == "invalid_idempotency_key"
    assert len(server.ws.store.audit_log()) == before  # nothing was applied


def test_a_keyed_write_sent_twice_is_applied_once(server: Server, admin: httpx.Client) -> None:
    spec = method_specs(BaseModelRecords)["insert_version"]
    body = spec.encode_call(
        {"name": "keyed-twice", "new": sample_version("b"), "model_description": None}
    )
    headers = {"content-type": "application/json", "idempotency-key": "k3y-" + "0123456789ab"}
    before = server.ws.store.audit_log(target_prefix="model:keyed-twice")
    first = admin.post(f"{RECORDS}/model/insert_version", content=body, headers=headers)
    assert first.status_code == 200, first.text
    after_first = server.ws.store.audit_log(target_prefix="model:keyed-twice")
    second = admin.post(f"{RECORDS}/model/insert_version", content=body, headers=headers)
    assert second.status_code == 200, second.text
    assert second.json() == first.json()
    assert first.json()["result"]["version"] == 1
    after_second = server.ws.store.audit_log(target_prefix="model:keyed-twice")
    assert len(after_first) - len(before) == 1
    assert after_second == after_first
    versions = admin.post(f"{RECORDS}/model/list_versions", json={"name": "keyed-twice"})
    assert [v["version"] for v in versions.json()["result"]] == [1]
    # a new key is a new request: the next version
    headers["idempotency-key"] = "k3y-" + "ba9876543210"
    third = admin.post(f"{RECORDS}/model/insert_version", content=body, headers=headers)
    assert third.json()["result"]["version"] == 2


def test_two_clients_registering_at_once_get_contiguous_versions(server: Server) -> None:
    secrets = [server.token(f"writer-{i}", "developer") for i in range(2)]
    clients = [RemoteClient(server.url, s, retries=2) for s in secrets]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def register(index: int) -> None:
        records = rest_records(BaseModelRecords, clients[index])
        start.wait()
        try:
            for step in range(5):
                tag = "cdef"[index * 2 + step % 2]
                records.insert_version(
                    server.actor(f"writer-{index}"),
                    "raced",
                    sample_version(tag),
                    model_description=None,
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for client in clients:
        client.close()
    assert errors == []
    reader = RemoteClient(server.url, server.token("raced-reader", "viewer"))
    try:
        listed = rest_records(BaseModelRecords, reader).list_versions("raced")
    finally:
        reader.close()
    assert sorted(v.version for v in listed) == list(range(1, 11))
    creators = {v.created_by for v in listed}
    assert creators == {"token:writer-0", "token:writer-1"}
