"""Verifying bearer tokens against a team server, for a prediction server that has no
token records of its own (a remote workspace's ``conveyor serve``).

The server answers ``GET /api/v1/whoami`` for any valid token with its name, role and
environments; that is the whole check, so the prediction server needs no token with the
``manage_tokens`` permission to check others. A verified token is remembered for
``cache_s`` seconds (a revocation takes effect on the prediction server within that
time); failures are counted per client by a :class:`~conveyor.security.FailureLimiter`
here, and audited by the team server, which saw the bad token.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import httpx
import orjson

from conveyor.errors import ConveyorError
from conveyor.remote._client import API_PREFIX, ServerUnavailableError, check_server_url
from conveyor.security import FailureLimiter, InvalidTokenError, TokenInfo, parse_role


class RemoteTokens:
    """Checks tokens with the team server at ``url``; :class:`~conveyor.security.Tokens`'s
    ``verify`` contract.

    Args:
        url: The team server.
        cache_s: How long a verified token is trusted without asking again.
        limiter: Counts failed checks per client (a new one if omitted).
        transport: An ``httpx`` transport (default: the network).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_s: float = 30.0,
        limiter: FailureLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = check_server_url(url)
        self.cache_s = cache_s
        self.limiter = limiter or FailureLimiter()
        self._http = httpx.Client(base_url=self.url + API_PREFIX, timeout=10.0, transport=transport)
        self._clock = clock
        self._cache: dict[str, tuple[TokenInfo, float]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteTokens({self.url!r})"

    def verify(self, secret: object, *, client: str = "unknown") -> TokenInfo:
        """The token whose secret is ``secret``, as the team server knows it.

        Raises:
            TooManyAttemptsError: ``client`` failed too often recently (checked first).
            InvalidTokenError: missing, malformed, unknown, expired or revoked.
            ServerUnavailableError: the team server did not answer (the caller answers
                503; a token is never let through unchecked).
        """
        self.limiter.check(client)
        if not isinstance(secret, str) or not secret or len(secret) > 256 or not secret.isascii():
            if secret not in (None, ""):
                self.limiter.failed(client)
            raise _invalid()
        key = hashlib.sha256(secret.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            answer = self._http.get("/whoami", headers={"authorization": f"Bearer {secret}"})
        except httpx.TransportError as exc:
            raise ServerUnavailableError(
                f"The conveyor server {self.url} could not be asked about a token: "
                f"{type(exc).__name__}.",
                hint="Check that `conveyor server` is running and reachable.",
                url=self.url,
            ) from exc
        if answer.status_code in (401, 403):
            self.limiter.failed(client)
            raise _invalid()
        if answer.status_code != 200:
            raise ServerUnavailableError(
                f"The conveyor server {self.url} answered HTTP {answer.status_code} about a token.",
                hint="Check the team server's log.",
                url=self.url,
            )
        try:
            body = orjson.loads(answer.content)
            token = TokenInfo(
                name=str(body["name"]),
                role=parse_role(body["role"]),
                environments=tuple(str(e) for e in body.get("environments", ())),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ConveyorError) as exc:
            raise ServerUnavailableError(
                f"The conveyor server {self.url} answered /whoami with something that is not "
                "a token description.",
                hint="Check that the URL is a conveyor server of the same version.",
                url=self.url,
            ) from exc
        with self._lock:
            self._cache[key] = (token, now + self.cache_s)
        return token

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _invalid() -> InvalidTokenError:
    return InvalidTokenError(
        "The token is not valid.",
        hint="Send `Authorization: Bearer <token>` with an active token; "
        "`conveyor tokens list` shows which tokens exist.",
    )
