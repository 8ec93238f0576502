"""A webhook receiver on 127.0.0.1 for the tests that post notifications.

Records every POST (event header, parsed body, whether its signature verifies with the
secret it was started with) and answers 204; it can be told to fail the first posts (503),
to refuse bad signatures (401), or to hold each request until the test releases it.

Example:
    >>> with WebhookReceiver("s3cret") as hook:  # doctest: +SKIP
    ...     post_something(hook.url)
    ...     assert hook.received[0]["valid"]
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from conveyor.notify import SIGNATURE_HEADER, verify_signature


class WebhookReceiver:
    """A real HTTP server in a thread that records the webhooks posted to it.

    Attributes:
        received: One dict per POST, in arrival order: ``event``, ``body``, ``valid``.
        fail_first: How many first posts to answer 503 (a receiver that is down).
        refuse_invalid: Answer 401 to a post whose signature does not verify.
        release: Set by default; clear it to hold every request until it is set again.
    """

    def __init__(self, secret: str, *, refuse_invalid: bool = False) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.fail_first = 0
        self.refuse_invalid = refuse_invalid
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on (127.0.0.1)."""
        port: int = self._server.server_port
        return port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/hook``."""
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _record(self, event: str | None, body: bytes, signature: str | None) -> int:
        self.release.wait(timeout=20)
        valid = verify_signature(body, self.secret, signature)
        with self._lock:
            self.received.append({"event": event, "body": json.loads(body), "valid": valid})
            failing = len(self.received) <= self.fail_first
        if failing:
            return 503
        return 401 if self.refuse_invalid and not valid else 204

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver._record(
                    self.headers.get("X-Conveyor-Event"), body, self.headers.get(SIGNATURE_HEADER)
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler
