"""Webhook delivery: signed JSON posts, retried in a background thread, failures audited."""

from __future__ import annotations

import fnmatch
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from conveyor.config import WebhookEndpoint, WebhooksConfig
from conveyor.core import Actor, isoformat, redact, redact_value, utcnow
from conveyor.notify._base import LOGGER_NAME, BaseNotifier
from conveyor.notify._errors import NotifyConfigError
from conveyor.notify._signing import SIGNATURE_HEADER, sign_body

if TYPE_CHECKING:
    from conveyor.store import BaseAuditRecords, MetadataStore

_log = logging.getLogger(LOGGER_NAME)
#: Responses worth retrying: the receiver is overloaded or briefly broken.
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Why a delivery still queued when the notifier shut down was not made.
NOT_DELIVERED = "not delivered before shutdown"


@dataclass(frozen=True)
class Delivery:
    """The outcome of posting one event to one endpoint.

    Attributes:
        id: Delivery id (also sent as ``X-Conveyor-Delivery``).
        event: The event name.
        url: The endpoint, redacted (no password, token or signature in it).
        ok: Whether the receiver accepted it (2xx).
        attempts: Posts made.
        status: The last HTTP status, or ``None`` when no response came.
        error: Why it failed, when it did.
    """

    id: str
    event: str
    url: str
    ok: bool
    attempts: int
    status: int | None
    error: str | None


@dataclass(frozen=True)
class _Job:
    id: str
    event: str
    endpoint: WebhookEndpoint
    secret: str | None
    body: bytes


class WebhookNotifier(BaseNotifier):
    """Posts events to the configured webhook endpoints without blocking the caller.

    :meth:`send` serialises the body, queues one delivery per matching endpoint (event
    patterns are shell-style: ``deploy.*``) and returns; a daemon thread posts them. Each
    body is signed with the endpoint's secret as ``X-Conveyor-Signature: sha256=<hex>``
    (HMAC-SHA256 of the exact bytes). A connection error, timeout or retryable status
    (408, 425, 429, 5xx) is retried with exponential backoff, at most ``max_attempts``
    posts and ``max_total_s`` seconds per delivery; a delivery that still fails is logged
    and, when a store is given, recorded as a ``notify.failed`` audit event. URLs in logs,
    audit events and :class:`Delivery` records are redacted (:func:`conveyor.core.redact`).
    :meth:`close` waits a bounded time for queued deliveries and records every one it could
    not make as failed, so nothing is lost silently when the process exits. Thread-safe.

    Args:
        config: The ``webhooks`` section.
        env: Where secrets are read (``secret_env`` names a variable); default none.
        store: Where failed deliveries are audited (the metadata store or, in a remote
            workspace, its audit records).
        actor: Who records them (default ``Actor("notifier")``).
        backoff_s: First retry delay (doubled each retry).
        max_total_s: Time budget of one delivery, retries included.
        max_queue: Deliveries waiting at most; beyond it new ones fail at once.

    Raises:
        NotifyConfigError: an endpoint's host is not in ``allowed_hosts``, or its
            ``secret_env`` variable is not set.

    Example:
        >>> notifier = WebhookNotifier(settings.config.webhooks, env=os.environ)  # doctest: +SKIP
        >>> notifier.send("deploy.promote", {"environment": "production"})  # doctest: +SKIP
        1
    """

    def __init__(
        self,
        config: WebhooksConfig,
        *,
        env: Mapping[str, str] | None = None,
        store: MetadataStore | BaseAuditRecords | None = None,
        actor: Actor | None = None,
        backoff_s: float = 0.5,
        max_total_s: float = 30.0,
        max_queue: int = 1000,
    ) -> None:
        env = env or {}
        self.config = config
        self.store = store
        self.actor = actor or Actor("notifier")
        self.backoff_s = backoff_s
        self.max_total_s = max_total_s
        self.deliveries: list[Delivery] = []
        self._secrets = {id(e): _secret(config, i, e, env) for i, e in enumerate(config.endpoints)}
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._stop = threading.Event()

    def __repr__(self) -> str:
        return f"WebhookNotifier({len(self.config.endpoints)} endpoints)"

    def send(self, event: str, payload: Mapping[str, Any]) -> int:
        """Queue ``event`` for every endpoint whose patterns match it; never blocks.

        Returns:
            How many deliveries were queued.
        """
        targets = [e for e in self.config.endpoints if _matches(event, e.events)]
        if not targets or self._closed:
            return 0
        # Receivers are outside conveyor: a payload quoting a URL loses its credentials here.
        document = {"event": event, "at": isoformat(utcnow()), "payload": redact_value(payload)}
        queued = 0
        for endpoint in targets:
            secret = self._secrets[id(endpoint)]
            job = _Job(uuid.uuid4().hex, event, endpoint, secret, _body(endpoint, document))
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                self._finish(job, ok=False, attempts=0, status=None, error="queue full")
                continue
            queued += 1
        self._ensure_worker()
        return queued

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued delivery finished (succeeded or failed for good)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting events; deliver what is queued within ``timeout``; stop the worker.

        Deliveries still queued (or waiting to retry) when ``timeout`` runs out are given
        up: each is logged and recorded as ``notify.failed`` with the error
        ``"not delivered before shutdown"``. Idempotent.

        Args:
            timeout: Seconds to wait for queued deliveries (default ``max_total_s``).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            worker = self._worker
        if worker is None:
            return
        budget = self.max_total_s if timeout is None else max(timeout, 0.0)
        if not self.flush(timeout=budget):
            self._stop.set()
            self._abandon_queued()
        self._queue.put(None)
        # The post in flight (if any) ends within the HTTP timeout, then the worker exits.
        worker.join(timeout=self.config.timeout_s + 1)

    def _abandon_queued(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                if job is not None:
                    self._finish(job, ok=False, attempts=0, status=None, error=NOT_DELIVERED)
            finally:
                self._queue.task_done()

    # -- the worker ----------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None and not self._closed:
                self._worker = threading.Thread(
                    target=self._run, name="conveyor-notify", daemon=True
                )
                self._worker.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self.config.timeout_s, follow_redirects=False) as client:
            while True:
                job = self._queue.get()
                try:
                    if job is None:
                        return
                    if self._stop.is_set():
                        self._finish(job, ok=False, attempts=0, status=None, error=NOT_DELIVERED)
                    else:
                        self._deliver(client, job)
                finally:
                    self._queue.task_done()

    def _deliver(self, client: httpx.Client, job: _Job) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "conveyor-notify",
            "X-Conveyor-Event": job.event,
            "X-Conveyor-Delivery": job.id,
        }
        if job.secret is not None:
            headers[SIGNATURE_HEADER] = sign_body(job.body, job.secret)
        started = time.monotonic()
        status: int | None = None
        error = "not attempted"
        attempts = 0
        while attempts < self.config.max_attempts:
            attempts += 1
            try:
                response = client.post(job.endpoint.url, content=job.body, headers=headers)
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {redact(str(exc))}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    self._finish(job, ok=True, attempts=attempts, status=status, error=None)
                    return
                error = f"HTTP {status}"
                if status not in _RETRY_STATUS:
                    break  # the receiver refused this body; sending it again will not help
            delay = self.backoff_s * 2 ** (attempts - 1)
            if time.monotonic() - started + delay > self.max_total_s:
                break
            if attempts < self.config.max_attempts and self._stop.wait(delay):
                error = f"{error}; {NOT_DELIVERED}"
                break
        self._finish(job, ok=False, attempts=attempts, status=status, error=error)

    def _finish(
        self, job: _Job, *, ok: bool, attempts: int, status: int | None, error: str | None
    ) -> None:
        url = redact(job.endpoint.url)
        delivery = Delivery(job.id, job.event, url, ok, attempts, status, error)
        with self._lock:
            self.deliveries.append(delivery)
        if ok:
            return
        _log.warning(
            "webhook delivery %s of %s to %s failed after %d attempts: %s",
            job.id, job.event, url, attempts, error,
        )  # fmt: skip
        if self.store is None:
            return
        details = {"delivery": job.id, "event": job.event, "url": url,
                   "attempts": attempts, "status": status, "error": error}  # fmt: skip
        host = urlsplit(job.endpoint.url).hostname or ""
        try:
            self.store.record_event(self.actor, "notify.failed", f"webhook:{host}", details)
        except Exception:  # noqa: BLE001 - recording must never kill the delivery thread
            _log.exception("could not record the failed delivery %s", job.id)


def _matches(event: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(event, pattern) for pattern in patterns)


def _body(endpoint: WebhookEndpoint, document: dict[str, Any]) -> bytes:
    if endpoint.format == "slack":
        payload = document["payload"]
        summary = payload.get("reason") or payload.get("summary") or ""
        where = payload.get("environment") or payload.get("env") or ""
        text = f"conveyor {document['event']}" + (f" [{where}]" if where else "")
        document = {"text": text + (f": {summary}" if summary else "")}
    return json.dumps(document, default=str, sort_keys=True, separators=(",", ":")).encode()


def _secret(
    config: WebhooksConfig, index: int, endpoint: WebhookEndpoint, env: Mapping[str, str]
) -> str | None:
    host = urlsplit(endpoint.url).hostname or ""
    if host not in config.allowed_hosts:
        raise NotifyConfigError(
            f"webhooks.endpoints[{index}] posts to host {host!r}, which is not in "
            f"webhooks.allowed_hosts ({', '.join(config.allowed_hosts) or 'empty'}).",
            hint=f"Add {host!r} to webhooks.allowed_hosts if it is trusted, or remove the "
            "endpoint.",
            url=redact(endpoint.url),
            host=host,
        )
    if endpoint.secret_env is None:
        return None
    secret = env.get(endpoint.secret_env)
    if not secret:
        raise NotifyConfigError(
            f"webhooks.endpoints[{index}] signs with the variable {endpoint.secret_env!r}, "
            "which is not set.",
            hint=f"Export {endpoint.secret_env}=<secret> (the receiver verifies with it), or "
            "remove secret_env to send unsigned posts.",
            url=redact(endpoint.url),
            secret_env=endpoint.secret_env,
        )
    return secret
