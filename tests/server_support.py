"""A real ``conveyor server`` (the control plane) on 127.0.0.1 for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from conveyor.api import create_app
from conveyor.core import Actor
from conveyor.security import SqlTokenRecords, Tokens
from conveyor.workspace import Workspace

ADMIN = Actor(name="admin", kind="user")


@dataclass
class Server:
    """A control plane running in this process."""

    url: str
    ws: Workspace
    tokens: Tokens

    def token(self, name: str, role: str, *, environments: tuple[str, ...] = ()) -> str:
        """Create a token on the server and return its secret."""
        secret, _ = self.tokens.create(name, role, environments=environments, actor=ADMIN)
        return secret

    def actor(self, name: str) -> Actor:
        """The actor the server records for token ``name``."""
        return Actor(name=f"token:{name}", kind="service")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: object, port: int | None = None) -> Iterator[tuple[str, uvicorn.Server]]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a thread; yield its URL and server."""
    port = port or free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        # A client that keeps a connection open must not hold the test's teardown.
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(20)


@contextmanager
def control_plane(ws: Workspace, port: int | None = None) -> Iterator[Server]:
    """``conveyor server``'s app over ``ws``, served on 127.0.0.1."""
    tokens = Tokens(SqlTokenRecords(ws.store))
    with serve_app(create_app(ws, tokens=tokens), port) as (url, _):
        yield Server(url, ws, tokens)
