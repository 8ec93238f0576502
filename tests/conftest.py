"""Shared fixtures: real PostgreSQL, a real S3 API (moto's server) and metadata URLs.

PostgreSQL and Redis run on 127.0.0.1 on developer machines and in CI. A test that needs
one is skipped when it is absent, unless ``CONVEYOR_REQUIRE_SERVICES=1`` (set by CI),
in which case the missing service fails the test loudly.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_HOST = os.environ.get("CONVEYOR_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("CONVEYOR_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("CONVEYOR_TEST_PG_USER", "postgres")
REQUIRE_SERVICES = os.environ.get("CONVEYOR_REQUIRE_SERVICES") == "1"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _need_service(name: str, host: str, port: int) -> None:
    if _port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and CONVEYOR_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a developer's own CONVEYOR_* settings (except the service switch)."""
    for key in list(os.environ):
        keep = key == "CONVEYOR_REQUIRE_SERVICES" or key.startswith("CONVEYOR_TEST_")
        if key.startswith("CONVEYOR_") and not keep:
            monkeypatch.delenv(key)
    monkeypatch.setenv("CONVEYOR_ACTOR", "tester")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on 127.0.0.1, dropped after the test."""
    _need_service("PostgreSQL", PG_HOST, PG_PORT)
    import psycopg

    name = f"conveyor_test_{uuid.uuid4().hex[:12]}"
    admin = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres connect_timeout=5"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite metadata URL in a fresh temporary folder."""
    return f"sqlite:///{tmp_path / 'meta' / 'conveyor.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each metadata-store contract test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'conveyor.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on 127.0.0.1 (a real HTTP S3 API), for the session."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, dict[str, object]]:
    """A fresh bucket on the moto server: returns ``(s3://bucket/prefix, storage_options)``."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"conveyor-{uuid.uuid4().hex[:10]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    options: dict[str, object] = {
        "endpoint_url": s3_endpoint,
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    return f"s3://{bucket}/artifacts", options


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    """One local Ray instance per test process (``ray.init`` may run once per process), with
    no dashboard, no usage reporting and a short temporary folder (Unix socket paths)."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray = pytest.importorskip("ray")
    short = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    if ray.is_initialized():  # started by code under test without this fixture
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=short)
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(short, ignore_errors=True)
