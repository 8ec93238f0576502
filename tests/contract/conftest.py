"""Contract suites of the records interfaces, run against every implementation.

Each ``test_<package>_records.py`` subclasses the suite shipped in
``conveyor.testing.records`` and provides ``records`` over a metadata store on SQLite and
on PostgreSQL (the ``metadata_url`` fixture of the top-level conftest);
``test_rest_records.py`` runs the same suites against the REST implementations, through a
real ``conveyor server`` over each of those stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.api import create_app
from conveyor.core import Actor
from conveyor.remote import RemoteClient
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.store import MetadataStore, open_store
from conveyor.workspace import Workspace
from server_support import serve_app


@pytest.fixture
def store(metadata_url: str) -> Iterator[MetadataStore]:
    """A migrated, empty metadata store on SQLite or PostgreSQL."""
    with open_store(metadata_url) as opened:
        yield opened


@pytest.fixture
def actor() -> Actor:
    """The actor every write of a contract test is recorded by."""
    return Actor(name="contract-tester", kind="user")


@pytest.fixture(scope="session")
def rest_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Tokens, str]]:
    """Tokens in a store of their own (one per test session) and an admin's secret."""
    root = tmp_path_factory.mktemp("rest-auth")
    with open_store(f"sqlite:///{root / 'auth.db'}") as auth:
        tokens = Tokens(SqlTokenRecords(auth))
        secret, _ = tokens.create("contract", "admin", actor=Actor(name="admin"))
        yield tokens, secret


@pytest.fixture
def rest(metadata_url: str, tmp_path: Path, rest_auth: tuple[Tokens, str]) -> Iterator[RestBackend]:
    """A real control plane on 127.0.0.1 over a fresh store on SQLite or PostgreSQL.

    Its tokens live in a store of their own, so the store under test holds only what a
    contract test writes; the client calls with an admin token named ``contract``.
    """
    tokens, secret = rest_auth
    env = {"CONVEYOR_METADATA_URL": metadata_url}
    with (
        Workspace.open(tmp_path / "served", env=env) as ws,
        serve_app(create_app(ws, tokens=tokens)) as (url, _server),
    ):
        client = RemoteClient(url, secret, retries=2)
        try:
            yield RestBackend(client, ws.store)
        finally:
            client.close()


class RestBackend:
    """What a REST contract test needs: the client and the store behind the server."""

    def __init__(self, client: RemoteClient, store: MetadataStore) -> None:
        self.client = client
        self.store = store
        self.actor = Actor(name="token:contract", kind="service")
