"""The agent lease: a row in the metadata store that lets one agent act at a time.

An agent acts only while it holds the lease (``agent_leases`` row, expiring after a
time-to-live it keeps renewing). Taking the lease over from nobody or from an expired
holder is an audited write; renewing it is a single conditional ``UPDATE`` (not audited:
it is a heartbeat). Every step the agent records checks, inside the same transaction, that
it still holds the lease (:meth:`Lease.fence`), so an agent that lost it records nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from conveyor.automation._errors import LeaseLostError
from conveyor.core import Actor, isoformat
from conveyor.store import AgentLeaseRow, MetadataStore, WriteTx

__all__ = ["Lease", "LeaseInfo", "default_holder"]

_log = logging.getLogger("conveyor.automation")


def default_holder() -> str:
    """``host:pid:random``: unique per agent process, readable in ``agent status``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease and until when."""

    name: str
    holder: str
    expires_at: datetime
    acquired_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready view."""
        return {
            "name": self.name,
            "holder": self.holder,
            "expires_at": isoformat(self.expires_at),
            "acquired_at": isoformat(self.acquired_at),
        }


class _Taken(Exception):
    """Rolls back a takeover attempt that lost the race (no audit event is written)."""


class Lease:
    """One named lease held by ``holder``.

    Thread safety: :meth:`renew` may run on a keeper thread while the owner records steps.

    Args:
        store: The metadata store.
        actor: Who signs the takeover audit events.
        name: The lease name (one per group of agents that must not act together).
        holder: This agent's id.
        ttl_s: How long the lease lasts without renewal.
        clock: Seconds since the epoch.
    """

    def __init__(
        self,
        store: MetadataStore,
        *,
        actor: Actor,
        name: str = "agent",
        holder: str | None = None,
        ttl_s: float = 60.0,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.actor = actor
        self.name = name
        self.holder = holder or default_holder()
        self.ttl = timedelta(seconds=ttl_s)
        self._clock = clock

    def now(self) -> datetime:
        """The lease clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self._clock(), UTC)

    def current(self) -> LeaseInfo | None:
        """The lease row as stored (possibly expired), or ``None``."""
        with self.store.read() as session:
            row = session.get(AgentLeaseRow, self.name)
            return None if row is None else _info(row)

    def acquire(self) -> bool:
        """Take the lease if free or expired, renew it if held; return whether held."""
        now = self.now()
        info = self.current()
        if info is not None and info.holder == self.holder:
            return self.renew()
        if info is not None and info.expires_at > now:
            return False
        try:
            with self.store.write(self.actor, "agent.lease", f"lease:{self.name}") as tx:
                row = tx.session.get(AgentLeaseRow, self.name)
                if row is not None and row.holder != self.holder and row.expires_at > now:
                    raise _Taken
                previous = None if row is None else row.holder
                if row is None:
                    row = AgentLeaseRow(name=self.name, holder=self.holder)
                    tx.session.add(row)
                row.holder = self.holder
                row.acquired_at = now
                row.expires_at = now + self.ttl
                tx.details.update({"holder": self.holder, "previous": previous})
        except _Taken:
            return False
        return True

    def renew(self) -> bool:
        """Extend the lease if this agent still holds it; return whether it does."""
        now = self.now()
        with Session(self.store.engine) as session, session.begin():
            result = session.execute(
                update(AgentLeaseRow)
                .where(AgentLeaseRow.name == self.name, AgentLeaseRow.holder == self.holder)
                .values(expires_at=now + self.ttl)
            )
            return bool(getattr(result, "rowcount", 0))

    def release(self) -> None:
        """Let the lease expire now, if held, so another agent can act at once."""
        with Session(self.store.engine) as session, session.begin():
            session.execute(
                update(AgentLeaseRow)
                .where(AgentLeaseRow.name == self.name, AgentLeaseRow.holder == self.holder)
                .values(expires_at=self.now())
            )

    def fence(self, tx: WriteTx) -> None:
        """Raise inside ``tx`` unless this agent holds an unexpired lease.

        Raises:
            LeaseLostError: The lease is held by another agent or expired.
        """
        row = tx.session.get(AgentLeaseRow, self.name)
        if row is None or row.holder != self.holder or row.expires_at <= self.now():
            holder = None if row is None else row.holder
            raise LeaseLostError(
                f"Agent {self.holder} no longer holds lease {self.name!r} "
                f"(holder: {holder or 'nobody'}); it stops acting.",
                hint="Another agent took over; this one resumes when the lease is free.",
                lease=self.name,
                holder=holder,
            )

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


def _info(row: AgentLeaseRow) -> LeaseInfo:
    return LeaseInfo(
        name=row.name, holder=row.holder, expires_at=row.expires_at, acquired_at=row.acquired_at
    )
