"""The HTTP client of a remote workspace: one connection pool, a token, and retries.

Every call to the control plane goes through :class:`RemoteClient`. It sends the token
as ``Authorization: Bearer``, gives every write an ``Idempotency-Key`` that stays the
same across its retries (the server applies a keyed request once, so a retry after a
lost answer neither loses nor doubles anything), retries with exponential backoff and
jitter when the server cannot be reached or answers 502/503/504, and turns an error
answer back into the conveyor exception the server raised (same class, message, hint
and fields), so code using a remote workspace handles errors as it would locally.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from conveyor.core import redact
from conveyor.errors import ConfigError, ConveyorError
from conveyor.remote._codec import MethodSpec

API_PREFIX = "/api/v1"
_RETRY_STATUS = frozenset({502, 503, 504})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class RemoteError(ConveyorError):
    """The team server answered with an error conveyor does not know, or not at all."""

    code = "remote_error"


class ServerUnavailableError(RemoteError):
    """The team server could not be reached, or kept answering 5xx, through every retry."""

    code = "server_unavailable"


class RemoteClient:
    """Calls a ``conveyor server`` at ``url`` with ``token``.

    Args:
        url: The server's base URL (``https://conveyor.example.com``; plain ``http`` only
            for a loopback host, since the token would travel in the clear).
        token: An API token (``conveyor tokens create``).
        timeout_s: Per request (connect, read and write each).
        retries: How many times a request that could not get an answer is sent again.
        backoff_s: First pause between attempts; it doubles up to ``max_backoff_s``.
        transport: An ``httpx`` transport (tests pass an ASGI one; default: the network).

    Raises:
        ConfigError: The URL is not http(s), has no host, or is plain http to a host
            other than loopback; or the token is empty.

    Example:
        >>> client = RemoteClient("http://127.0.0.1:8765", token)  # doctest: +SKIP
        >>> client.get("/whoami")["name"]  # doctest: +SKIP
        'ci'
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float = 30.0,
        retries: int = 8,
        backoff_s: float = 0.1,
        max_backoff_s: float = 4.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = check_server_url(url)
        if not token or not token.strip():
            raise ConfigError(
                f"No token for the conveyor server {self.url}.",
                hint="Set CONVEYOR_TOKEN to a token from `conveyor tokens create` on the server.",
            )
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers={"authorization": f"Bearer {token.strip()}", "user-agent": "conveyor"},
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:  # never the token
        return f"RemoteClient({self.url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def call(self, spec: MethodSpec, arguments: Mapping[str, Any]) -> Any:
        """Call the records method ``spec`` with ``arguments``; return its decoded answer."""
        body = spec.encode_call(arguments)
        response = self.send("POST", spec.path, content=body, write=spec.writes)
        return spec.decode_answer(response.content)

    def get(self, path: str, **params: Any) -> Any:
        """``GET`` a JSON document from ``/api/v1{path}``."""
        return orjson.loads(self.send("GET", path, params=params or None).content)

    def send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        write: bool = False,
    ) -> httpx.Response:
        """Send a request, retrying while the server cannot answer; raise its error.

        ``write`` requests carry an ``Idempotency-Key`` that is the same on every retry.

        Raises:
            ServerUnavailableError: No answer (or only 502/503/504) through every retry.
            ConveyorError: The server's error, as the class it raised.
        """
        sent = dict(headers or {})
        if write:
            sent["idempotency-key"] = uuid.uuid4().hex
        if content is not None:
            sent.setdefault("content-type", "application/json")
        attempt = _Attempts(self, method, path)
        for _ in attempt:
            try:
                response = self.http.request(
                    method, path, content=content, params=params, headers=sent
                )
            except httpx.TransportError as exc:
                attempt.failed(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code in _RETRY_STATUS:
                attempt.failed(f"HTTP {response.status_code}", _retry_after(response))
                continue
            if response.status_code >= 400:
                raise error_from(response)
            return response
        raise attempt.unavailable()

    @contextmanager
    def stream(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """Open a streamed answer (a download), retrying until the server answers.

        Raises:
            ServerUnavailableError, ConveyorError: as :meth:`send`.
        """
        attempt = _Attempts(self, method, path)
        for _ in attempt:
            request = self.http.build_request(method, path, headers=dict(headers or {}))
            try:
                response = self.http.send(request, stream=True)
            except httpx.TransportError as exc:
                attempt.failed(f"{type(exc).__name__}: {exc}")
                continue
            try:
                if response.status_code in _RETRY_STATUS:
                    attempt.failed(f"HTTP {response.status_code}", _retry_after(response))
                    continue
                if response.status_code >= 400:
                    response.read()
                    raise error_from(response)
                yield response
                return
            finally:
                response.close()
        raise attempt.unavailable()


class _Attempts:
    """The retry loop of one request: iterate, call :meth:`failed` on a retryable miss."""

    def __init__(self, client: RemoteClient, method: str, path: str) -> None:
        self.client = client
        self.method = method
        self.path = path
        self.last = "no attempt made"
        self.tries = 0

    def __iter__(self) -> Iterator[int]:
        while self.tries <= self.client.retries:
            self.tries += 1
            yield self.tries

    def failed(self, reason: str, wait_s: float | None = None) -> None:
        self.last = reason
        if self.tries > self.client.retries:
            return
        cap = min(self.client.max_backoff_s, self.client.backoff_s * 2 ** (self.tries - 1))
        # Full jitter: clients that lost the server together do not come back in lockstep.
        pause = wait_s if wait_s is not None else random.uniform(cap / 2, cap)  # noqa: S311
        time.sleep(min(pause, self.client.max_backoff_s))

    def unavailable(self) -> ServerUnavailableError:
        return ServerUnavailableError(
            f"The conveyor server {self.client.url} did not answer {self.method} "
            f"{API_PREFIX}{self.path} after {self.tries} attempts: {redact(self.last)}.",
            hint="Check that `conveyor server` is running and reachable at that URL; "
            "nothing was lost: rerun the command once it is back.",
            url=self.client.url,
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def check_server_url(url: str) -> str:
    """``url`` without a trailing slash, if it is fit to send a token to.

    Raises:
        ConfigError: Not http(s), no host, credentials or a query in it, or plain http
            to a host other than loopback.
    """
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The conveyor server URL {redact(url)!r} is not an http(s) URL with a host.",
            hint="Set store.server_url (or CONVEYOR_SERVER_URL) like https://conveyor.example.com.",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(
            f"The conveyor server URL {redact(url)!r} carries credentials, a query or a fragment.",
            hint="Give the bare server URL; the token goes in CONVEYOR_TOKEN.",
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ConfigError(
            f"The conveyor server URL {text!r} is plain http to another host: the token "
            "would travel in the clear.",
            hint="Use https:// (put the server behind a TLS proxy); http is for 127.0.0.1.",
        )
    return text


#: Built-in exceptions a records method may raise, by the code the server answers with.
_BUILTINS: dict[str, type[Exception]] = {
    "key_error": KeyError,
    "value_error": ValueError,
    "type_error": TypeError,
}


def error_from(response: httpx.Response) -> Exception:
    """The exception an error answer stands for (the server's class when known)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return RemoteError(
            f"The conveyor server answered HTTP {response.status_code} without a JSON error.",
            hint="Check the server's log.",
            status=response.status_code,
        )
    message = str(body.get("error") or f"HTTP {response.status_code}")
    code = str(body.get("code") or "")
    hint = body.get("hint")
    fields = {
        k: v for k, v in body.items() if k not in ("error", "code", "hint") and k.isidentifier()
    }
    builtin = _BUILTINS.get(code)
    if builtin is not None:
        return builtin(message)
    cls = error_class(code)
    try:
        return cls(message, hint=hint if isinstance(hint, str) else None, **fields)
    except TypeError:  # a class whose constructor wants other fields
        return RemoteError(message, hint=hint, status=response.status_code, code_=code)


def error_class(code: str) -> type[ConveyorError]:
    """The conveyor exception class whose ``code`` is ``code`` (the first to define it)."""
    found = _codes().get(code)
    if found is None:
        _codes.cache_clear()  # a package imported since may define it
        found = _codes().get(code, RemoteError)
    return found


def _all_subclasses(cls: type[ConveyorError]) -> Iterator[type[ConveyorError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _codes_uncached() -> dict[str, type[ConveyorError]]:
    codes: dict[str, type[ConveyorError]] = {ConveyorError.code: ConveyorError}
    for cls in _all_subclasses(ConveyorError):
        if "code" in vars(cls):  # the class that defines a code, not one that repeats it
            codes.setdefault(cls.code, cls)
    return codes


class _CodeCache:
    def __init__(self) -> None:
        self._value: dict[str, type[ConveyorError]] | None = None

    def __call__(self) -> dict[str, type[ConveyorError]]:
        if self._value is None:
            self._value = _codes_uncached()
        return self._value

    def cache_clear(self) -> None:
        self._value = None


_codes = _CodeCache()
