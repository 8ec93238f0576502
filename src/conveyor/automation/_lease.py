"""The agent lease: a record that lets one agent act at a time.

An agent acts only while it holds the lease (the ``agent_leases`` record, expiring after a
time-to-live it keeps renewing). Taking the lease over from nobody or from an expired
holder is an audited write; renewing it is a heartbeat (not audited). Every step the agent
records is fenced by the lease (:meth:`Lease.claim`): the records check, in the same
atomic step, that the agent still holds it, so an agent that lost it records nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

from conveyor.automation._base import BaseAutomationRecords
from conveyor.automation._records import LeaseClaim, LeaseInfo
from conveyor.automation._sql import SqlAutomationRecords
from conveyor.core import Actor
from conveyor.store import MetadataStore

__all__ = ["Lease", "LeaseInfo", "default_holder"]

_log = logging.getLogger("conveyor.automation")


def default_holder() -> str:
    """``host:pid:random``: unique per agent process, readable in ``agent status``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """One named lease held by ``holder``.

    Thread safety: :meth:`renew` may run on a keeper thread while the owner records steps.

    Args:
        store: The metadata store (``None`` when ``records`` are given).
        actor: Who signs the takeover audit events.
        name: The lease name (one per group of agents that must not act together).
        holder: This agent's id.
        ttl_s: How long the lease lasts without renewal.
        clock: Seconds since the epoch.
        records: Where the lease is kept (default: the store's SQL records).

    Raises:
        TypeError: Neither ``store`` nor ``records`` is given.

    Example:
        >>> records = ws.records(BaseAutomationRecords, SqlAutomationRecords)  # doctest: +SKIP
        >>> lease = Lease(None, actor=ws.actor, clock=time.time, records=records)  # doctest: +SKIP
        >>> lease.acquire()  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        store: MetadataStore | None = None,
        *,
        actor: Actor,
        name: str = "agent",
        holder: str | None = None,
        ttl_s: float = 60.0,
        clock: Callable[[], float],
        records: BaseAutomationRecords | None = None,
    ) -> None:
        if records is None:
            if store is None:
                raise TypeError("Lease needs a metadata store or records=; got neither.")
            records = SqlAutomationRecords(store)
        self.store = store
        self.records: BaseAutomationRecords = records
        self.actor = actor
        self.name = name
        self.holder = holder or default_holder()
        self.ttl = timedelta(seconds=ttl_s)
        self._clock = clock

    def now(self) -> datetime:
        """The lease clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self._clock(), UTC)

    def current(self) -> LeaseInfo | None:
        """The lease as stored (possibly expired), or ``None``."""
        return self.records.lease(self.name)

    def acquire(self) -> bool:
        """Take the lease if free or expired, renew it if held; return whether held."""
        now = self.now()
        info = self.current()
        if info is not None and info.holder == self.holder:
            return self.renew()
        if info is not None and info.expires_at > now:
            return False
        return self.records.take_lease(
            self.actor, name=self.name, holder=self.holder, now=now, expires_at=now + self.ttl
        )

    def renew(self) -> bool:
        """Extend the lease if this agent still holds it; return whether it does."""
        return self.records.renew_lease(
            self.name, holder=self.holder, expires_at=self.now() + self.ttl
        )

    def release(self) -> None:
        """Let the lease expire now, if held, so another agent can act at once."""
        self.records.renew_lease(self.name, holder=self.holder, expires_at=self.now())

    def claim(self) -> LeaseClaim:
        """The fence of this agent's writes: it holds this lease, unexpired, at write time.

        A write fenced by the claim raises
        :class:`~conveyor.automation.LeaseLostError` (and records nothing) when the lease
        is held by another agent or expired.
        """
        return LeaseClaim(name=self.name, holder=self.holder, now=self.now)

    def keeper(self, interval_s: float | None = None) -> LeaseKeeper:
        """A context manager renewing the lease on a thread while long work runs."""
        return LeaseKeeper(self, interval_s or self.ttl.total_seconds() / 3)


class LeaseKeeper:
    """Renews a lease every ``interval_s`` on a daemon thread until the context exits."""

    def __init__(self, lease: Lease, interval_s: float) -> None:
        self.lease = lease
        self.interval_s = max(interval_s, 0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="conveyor-lease", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.lease.renew()
            except Exception:  # noqa: BLE001 - a missed renewal is caught by the fence
                _log.warning("renewing lease %r failed", self.lease.name, exc_info=True)
