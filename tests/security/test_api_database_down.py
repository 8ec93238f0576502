"""The control plane while its PostgreSQL database cannot be reached, and after.

The server reaches PostgreSQL through a TCP proxy on 127.0.0.1 that the test cuts (every
connection closed, no new one accepted) and restores. While cut, ``/api/v1/health`` and
records calls answer 503 JSON with ``retry-after`` (a client without retries raises
:class:`~conveyor.remote.ServerUnavailableError`); after the restore both work again
without restarting the server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from conveyor.api import create_app
from conveyor.core import Actor
from conveyor.registry import BaseModelRecords
from conveyor.remote import RemoteClient, ServerUnavailableError, rest_records
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.store import open_store
from conveyor.workspace import Workspace
from server_support import serve_app

pytestmark = [pytest.mark.slow, pytest.mark.services]


class CuttableProxy:
    """Pipes TCP connections from a port on 127.0.0.1 to ``target``; can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.restore()

    def restore(self) -> None:
        """Accept connections again (on the same port)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Stop accepting and close every open connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied(pg_url: str, tmp_path: Path) -> Iterator[tuple[CuttableProxy, str, str]]:
    """A control plane over ``pg_url`` through a proxy: (proxy, server URL, admin token).

    The tokens live in a SQLite store of their own, so with PostgreSQL cut the requests
    still pass the token check and reach the records handlers.
    """
    parts = urlsplit(pg_url)
    proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = (
        f"{parts.username}@127.0.0.1:{proxy.port}"
        if parts.username
        else (f"127.0.0.1:{proxy.port}")
    )
    url = urlunsplit(parts._replace(netloc=netloc))
    env = {"CONVEYOR_METADATA_URL": url}
    try:
        with (
            Workspace.open(tmp_path / "served", env=env) as ws,
            open_store(f"sqlite:///{tmp_path / 'auth.db'}") as auth,
        ):
            tokens = Tokens(SqlTokenRecords(auth))
            secret, _ = tokens.create("ops", "admin", actor=Actor(name="admin"))
            with serve_app(create_app(ws, tokens=tokens)) as (server_url, _):
                yield proxy, server_url, secret
    finally:
        proxy.cut()


def test_a_cut_database_answers_503_and_recovers_without_a_restart(
    proxied: tuple[CuttableProxy, str, str],
) -> None:
    proxy, url, secret = proxied
    headers = {"authorization": f"Bearer {secret}"}
    client = RemoteClient(url, secret, retries=0, timeout_s=30)
    models = rest_records(BaseModelRecords, client)
    try:
        assert httpx.get(f"{url}/api/v1/health", timeout=30).status_code == 200
        assert models.list_models() == []

        proxy.cut()
        health = httpx.get(f"{url}/api/v1/health", timeout=30)
        assert health.status_code == 503, health.text
        assert health.json()["status"] == "unavailable"
        assert int(health.headers["retry-after"]) >= 1
        read = httpx.post(
            f"{url}/api/v1/records/model/list_models", json={}, headers=headers, timeout=30
        )
        assert read.status_code == 503, read.text
        assert read.headers["content-type"].startswith("application/json")
        assert isinstance(read.json()["error"], str)
        assert int(read.headers["retry-after"]) >= 1
        assert "127.0.0.1" not in read.json()["error"]  # no connection details leak
        with pytest.raises(ServerUnavailableError):
            models.list_models()

        proxy.restore()
        assert httpx.get(f"{url}/api/v1/health", timeout=30).status_code == 200
        assert models.list_models() == []
        listed = httpx.post(
            f"{url}/api/v1/records/model/list_models", json={}, headers=headers, timeout=30
        )
        assert listed.status_code == 200, listed.text
    finally:
        client.close()
