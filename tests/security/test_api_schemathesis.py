"""Property-based tests of the control plane from its own ``/openapi.json`` (schemathesis).

Schemathesis generates requests for every operation of the live server's schema, valid
ones and ones that break the schema, sent with an admin token; whatever it sends, no
answer is a 5xx. (Operations are walked in one test: the lazy ``from_fixture``
parametrization does not run under this pytest.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from conveyor.workspace import Workspace
from server_support import Server, control_plane

pytestmark = pytest.mark.slow

#: Examples per operation and mode (the whole run stays around a minute on 2 cores).
EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 4}

#: Operations with a known 5xx, each pinned by its own strict xfail below.
KNOWN_5XX: set[str] = set()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    with Workspace.open(root) as ws, control_plane(ws) as server:
        yield server, server.token("fuzz-admin", "admin")


def _operations(url: str, secret: str) -> list[Any]:
    raw = httpx.get(f"{url}/openapi.json", headers={"authorization": f"Bearer {secret}"})
    assert raw.status_code == 200, raw.text
    schema = schemathesis.openapi.from_dict(raw.json())
    operations = []
    for result in schema.get_all_operations():
        operations.append(result.ok())  # an operation schemathesis cannot read fails here
    return operations


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_5xx(live: tuple[Server, str], mode: GenerationMode) -> None:
    server, secret = live
    operations = _operations(server.url, secret)
    assert len(operations) > 50
    headers = {"authorization": f"Bearer {secret}"}
    failures: list[str] = []
    with requests.Session() as session:
        for operation in operations:
            if operation.path in KNOWN_5XX:
                continue

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES[mode],
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                case.call_and_validate(
                    base_url=server.url,
                    session=session,
                    headers=headers,
                    checks=[not_a_server_error],
                    timeout=30,
                )

            try:
                check()
            except Exception as exc:
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    # an operation without parameters has no invalid request to generate
    assert [f for f in failures if "Unable to satisfy assumptions" not in f] == []
    assert httpx.get(f"{server.url}/api/v1/health").status_code == 200


def test_a_run_cached_from_no_run_gets_a_4xx(live: tuple[Server, str]) -> None:
    server, secret = live
    run = {
        "id": "run-fk-1",
        "name": "fk",
        "kind": "task",
        "parent_id": None,
        "status": "running",
        "pipeline_ref": "p",
        "params": {},
        "tags": {},
        "code_version": {},
        "environment": {},
        "executor": None,
        "cache_key": None,
        "cached_from": "no-such-run",
        "error": None,
        "started_at": "2030-01-01T00:00:00+00:00",
        "ended_at": None,
        "heartbeat_at": None,
        "host": "h",
        "pid": 1,
        "wall_s": None,
        "cpu_s": None,
        "created_by": "x",
    }
    answer = httpx.post(
        f"{server.url}/api/v1/records/run/create_run",
        json={"run": run},
        headers={"authorization": f"Bearer {secret}"},
        timeout=30,
    )
    assert 400 <= answer.status_code < 500, answer.text
