"""The SQL implementation of the metadata store: sessions, audited writes, retries."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, literal, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import IntegrityError as SQLIntegrityError
from sqlalchemy.orm import Session

from conveyor.core import Actor, utcnow
from conveyor.errors import StoreDisconnectedError, StoreError
from conveyor.store._audit import (
    GENESIS_HASH,
    AuditEvent,
    AuditVerification,
    MalformedEvent,
    append_event,
    event_from_raw,
    verify_chain,
)
from conveyor.store._audit_queries import audit_log_query, raw_checkpoints_query, raw_events_query
from conveyor.store._checkpoints import (
    AuditCheckpoint,
    check_checkpoints,
    checkpoint_from_raw,
    sign_checkpoint,
)
from conveyor.store._db_errors import first_line, too_large_error, translate_db_error
from conveyor.store._engine import BEGIN_MODE_OPTION, build_engine, mask_url, normalise_url
from conveyor.store._migrate import lock_writers, upgrade_to_head
from conveyor.store._models import ArtifactRefRow, AuditCheckpointRow, AuditEventRow, RequestKeyRow
from conveyor.store._write_tx import REQUEST_KEY, RequestKey, WriteTx

# WriteTx and translate_db_error live in their own modules and are still exported here.
__all__ = ["SYSTEM_ACTOR", "MetadataStore", "WriteTx", "open_store", "translate_db_error"]

T = TypeVar("T")

#: Who signs the ``store.migrate`` event when ``open_store`` is not told otherwise.
SYSTEM_ACTOR = Actor(name="conveyor", kind="service")
_BACKOFF_BASE_S = 0.02
_BACKOFF_CAP_S = 1.0


class MetadataStore:
    """Metadata records in SQLite or PostgreSQL, every change audited in its transaction.

    Thread safety: one store may be shared by threads; each :meth:`read` and :meth:`write`
    uses its own session. Writers are serialised database-wide (SQLite ``BEGIN IMMEDIATE``,
    PostgreSQL advisory lock), so the audit chain never forks.

    Database failures a user can act on are raised as their own errors: a lock held past
    the busy timeout (:class:`~conveyor.errors.StoreBusyError`), a lost connection
    (:class:`~conveyor.errors.StoreDisconnectedError`), a full disk
    (:class:`~conveyor.errors.StoreFullError`) and a read-only database
    (:class:`~conveyor.errors.StoreReadOnlyError`).

    Build one with :func:`open_store`.
    """

    def __init__(self, engine: Engine, *, url: str) -> None:
        self.engine = engine
        self.url = url
        self.dialect: str = engine.dialect.name
        self._writer = engine.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})

    def __repr__(self) -> str:
        return f"MetadataStore({self.url!r})"

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Dispose of the engine and its pooled connections."""
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """Yield a session for reading; it is rolled back and closed on exit.

        Example:
            >>> with store.read() as session:  # doctest: +SKIP
            ...     owners = session.scalars(select(ArtifactRefRow.owner)).all()
        """
        with self._translate_errors(), Session(self.engine) as session:
            yield session

    @contextmanager
    def write(
        self,
        actor: Actor,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> Iterator[WriteTx]:
        """Run the body in one write transaction that also appends one audit event.

        On normal exit the audit event (with ``tx.target`` and ``tx.details`` as the body
        left them) is appended and everything commits together. If the body raises,
        everything rolls back, no event is written, and the exception propagates.

        Raises:
            StoreBusyError: SQLite stayed locked by another writer past the busy timeout.
            StoreDisconnectedError: The connection was lost; nothing was committed unless
                the error's ``retryable`` field is false (lost while committing).
            StoreFullError: The disk is full.
            StoreReadOnlyError: The database cannot be written.

        Example:
            >>> with store.write(actor, "dataset.add", "dataset:orders@1") as tx:  # doctest: +SKIP
            ...     tx.reference("dataset:orders@1", [content_hash])
        """
        tx: WriteTx | None = None
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                lock_writers(session.connection())
                tx = WriteTx(session, actor, action, target, dict(details or {}))
                request = REQUEST_KEY.get()
                if request is not None and not request.recorded:
                    # The key commits with the first change it keys, or not at all.
                    session.add(RequestKeyRow(key=request.key, at=utcnow()))
                yield tx
                event = append_event(
                    session,
                    actor=actor.name,
                    action=tx.action,
                    target=tx.target,
                    details=tx.details,
                )
                tx.committing = True
        except DBAPIError as exc:
            translated = self._translate(exc, committing=tx is not None and tx.committing)
            if translated is exc:
                raise
            raise translated from exc
        except OverflowError as exc:
            raise too_large_error(exc) from exc
        request = REQUEST_KEY.get()
        if request is not None:
            request.recorded = True
        tx.event = event

    @contextmanager
    def keyed(self, key: str) -> Iterator[None]:
        """Record ``key`` in the transaction of the first write made inside the block.

        The control plane wraps each request that carries an ``Idempotency-Key`` in this
        block: the key and the change commit together, so :meth:`request_applied` tells a
        retried request (whose answer was lost) from a new one, and the retry is not
        applied twice. A request that writes nothing records no key.

        Example:
            >>> with store.keyed("run-42-batch-7"):  # doctest: +SKIP
            ...     records.log_metrics(actor, run_id, batch)
        """
        token = REQUEST_KEY.set(RequestKey(key))
        try:
            yield
        finally:
            REQUEST_KEY.reset(token)

    def ping(self) -> None:
        """Run ``SELECT 1``: raise the store's error if the database cannot be reached.

        Raises:
            StoreDisconnectedError: The database is unreachable.
        """
        with self.read() as session:
            session.execute(select(literal(1)))

    def request_applied(self, key: str) -> tuple[bool, dict[str, Any] | None]:
        """Whether a request keyed ``key`` has been applied, and its saved answer if any."""
        with self.read() as session:
            row = session.get(RequestKeyRow, key)
            return (False, None) if row is None else (True, row.response)

    def save_response(self, key: str, response: dict[str, Any]) -> None:
        """Keep the answer of the applied request ``key`` for its retries (not audited:
        the change it answers was)."""
        # BEGIN IMMEDIATE on SQLite: a read lock upgraded to a write lock would fail at
        # once (SQLITE_BUSY) while another writer waits, instead of waiting its turn.
        with self._translate_errors(), Session(self._writer) as session, session.begin():
            row = session.get(RequestKeyRow, key)
            if row is not None:
                row.response = response

    def transact(
        self,
        actor: Actor,
        action: str,
        target: str,
        fn: Callable[[WriteTx], T],
        *,
        details: Mapping[str, Any] | None = None,
        retries: int = 5,
    ) -> T:
        """Run ``fn`` inside :meth:`write`, retrying when a unique constraint races.

        Numbers computed as ``max + 1`` inside ``fn`` therefore stay contiguous under
        concurrent writers: a loser of the race rolls back and computes again.

        A connection lost before the commit (a database restart, a dropped network link)
        is retried once on a new connection; ``fn`` must therefore only touch the database
        through ``tx``.

        Returns:
            Whatever ``fn`` returns from the attempt that committed.

        Raises:
            StoreError: still conflicting after ``retries`` retries.
            StoreDisconnectedError: the connection was lost twice, or while committing.
        """
        reconnects = 1
        attempt = 0
        while True:
            try:
                with self.write(actor, action, target, details) as tx:
                    return fn(tx)
            except StoreDisconnectedError as exc:
                if reconnects == 0 or not exc.fields.get("retryable"):
                    raise
                reconnects -= 1
                continue
            except SQLIntegrityError as exc:
                if attempt == retries:
                    raise StoreError(
                        f"{action} on {target!r} still conflicted with concurrent writers "
                        f"after {retries} retries: {exc.orig}",
                        hint="Retry the command; if it keeps failing, check for a "
                        "duplicate name or version.",
                        action=action,
                        target=target,
                    ) from exc
                # Jitter so writers that collided do not collide again in lockstep.
                delay = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt)
                time.sleep(random.uniform(0, delay))  # noqa: S311 - not security relevant
                attempt += 1

    def record_event(
        self,
        actor: Actor,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one audit event that records something that happened, with no other change.

        For events that are not a change to any record (an integrity failure, a webhook
        that could not be delivered, a key rotation): callers outside the records
        packages use this instead of :meth:`write`, which hands out a session.

        Returns:
            The event appended.

        Raises:
            StoreBusyError, StoreDisconnectedError, StoreFullError, StoreReadOnlyError: as
            :meth:`write`.
        """
        with self.write(actor, action, target, details) as tx:
            pass
        assert tx.event is not None  # set by write() once committed
        return tx.event

    def audit_log(
        self,
        *,
        limit: int | None = None,
        action: str | None = None,
        target_prefix: str | None = None,
        by_actor: str | None = None,
        before_seq: int | None = None,
    ) -> list[AuditEvent]:
        """Return audit events, oldest first.

        Args:
            limit: Keep only the newest ``limit`` matching events (still oldest first).
            action: Only events with exactly this action.
            target_prefix: Only events whose target starts with this text.
            by_actor: Only events of this actor (``Actor.name``).
            before_seq: Only events older than this position (to page back in time).
        """
        query = audit_log_query(
            limit=limit,
            action=action,
            target_prefix=target_prefix,
            by_actor=by_actor,
            before_seq=before_seq,
        )
        with self.read() as session:
            events = [AuditEvent.from_row(row) for row in session.scalars(query)]
        return sorted(events, key=lambda event: event.seq)

    def checkpoint_audit(self, private_key: Ed25519PrivateKey) -> AuditCheckpoint:
        """Sign the audit chain's current head and store the signed checkpoint.

        The checkpoint is a row of its own, not an audit event: it vouches for the newest
        event as it is, and writing it does not add a newer one. :meth:`verify_audit` then
        reports the removal of any event up to the checkpoint's ``seq``. Keep a copy outside
        the database too (:func:`~conveyor.store.write_checkpoint_file`), so that deleting
        checkpoint rows along with the events is detected as well.

        Args:
            private_key: The ed25519 key to sign with
                (:func:`~conveyor.store.load_audit_private_key` reads one from a file).

        Returns:
            The checkpoint stored (``seq`` 0 and :data:`GENESIS_HASH` for an empty log).

        Raises:
            StoreBusyError, StoreDisconnectedError, StoreFullError, StoreReadOnlyError: as
            :meth:`write`.

        Example:
            >>> key = load_audit_private_key("audit.key")  # doctest: +SKIP
            >>> store.checkpoint_audit(key).seq  # doctest: +SKIP
            42
        """
        with (
            self._translate_errors(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            # Under the writer lock no event is being appended, so this is the head.
            lock_writers(session.connection())
            last = session.execute(
                select(AuditEventRow.seq, AuditEventRow.hash)
                .order_by(AuditEventRow.seq.desc())
                .limit(1)
            ).first()
            seq, digest = (0, GENESIS_HASH) if last is None else (last.seq, last.hash)
            checkpoint = sign_checkpoint(private_key, seq, digest, utcnow())
            session.add(
                AuditCheckpointRow(
                    seq=checkpoint.seq,
                    hash=checkpoint.hash,
                    at=checkpoint.at,
                    key_id=checkpoint.key_id,
                    signature=checkpoint.signature,
                )
            )
        return checkpoint

    def audit_checkpoints(self) -> list[AuditCheckpoint]:
        """Return the stored checkpoints of the audit head, oldest first."""
        with self.read() as session:
            rows = session.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.id))
            return [
                AuditCheckpoint(row.seq, row.hash, row.at, row.key_id, row.signature)
                for row in rows
            ]

    def verify_audit(
        self,
        public_keys: Sequence[Ed25519PublicKey] | None = None,
        *,
        anchor: AuditCheckpoint | None = None,
    ) -> AuditVerification:
        """Recompute every audit hash and link, then check the signed checkpoints of the head.

        Columns are read undecoded, so a row whose timestamp or details were replaced by
        something unreadable is reported as that event ("malformed row: ..."). Every
        stored checkpoint (and ``anchor``) must name an existing event with exactly its
        hash; one beyond the chain's end means the newest events were removed ("events
        after #N were removed (checkpoint of ... vouches for #M)").

        Args:
            public_keys: Keys the checkpoints must be signed with (any one of them). None
                checks no signature (only that each checkpoint matches the chain); an empty
                sequence trusts no key, so any checkpoint fails.
            anchor: A checkpoint kept outside the database
                (:func:`~conveyor.store.read_checkpoint_file`); it catches checkpoint rows
                deleted together with the events they vouch for.

        Returns:
            The outcome; ``ok`` is False at the first problem, which ``reason`` names.
        """
        with self.read() as session:
            # Checkpoints before events: one written meanwhile then vouches for an event
            # the event query below still sees, never for one it missed.
            checkpoints = [
                checkpoint_from_raw(tuple(row)) for row in session.execute(raw_checkpoints_query())
            ]
        wanted = {cp.seq for cp in checkpoints if isinstance(cp, AuditCheckpoint)}
        if anchor is not None:
            wanted.add(anchor.seq)
        hashes: dict[int, str] = {}

        def noting_hashes(
            events: Iterator[AuditEvent | MalformedEvent],
        ) -> Iterator[AuditEvent | MalformedEvent]:
            for event in events:
                if isinstance(event, AuditEvent) and event.seq in wanted:
                    hashes[event.seq] = event.hash
                yield event

        with self.read() as session:
            rows = session.execute(raw_events_query())
            try:
                chain = verify_chain(noting_hashes(event_from_raw(tuple(row)) for row in rows))
            finally:
                # verification may stop early; a PostgreSQL server-side cursor must be closed
                rows.close()
        return check_checkpoints(chain, checkpoints, hashes, public_keys=public_keys, anchor=anchor)

    def referenced_hashes(self) -> set[str]:
        """Every artifact hash some record points at (what garbage collection must keep)."""
        with self.read() as session:
            return set(session.scalars(select(ArtifactRefRow.hash).distinct()))

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            translated = self._translate(exc, committing=False)
            if translated is exc:
                raise
            raise translated from exc
        except OverflowError as exc:
            raise too_large_error(exc) from exc

    def _translate(self, exc: DBAPIError, *, committing: bool) -> Exception:
        """The conveyor error for a database failure a user can act on, else ``exc``."""
        return translate_db_error(exc, self.url, self.dialect, committing=committing)


def open_store(
    url: str, *, busy_timeout_s: float = 30.0, actor: Actor | None = None
) -> MetadataStore:
    """Open (and create or upgrade, if needed) the metadata store at ``url``.

    Args:
        url: ``sqlite:////abs/path.db`` (the folder is created) or a PostgreSQL URL
            (``postgresql://``, ``postgres://`` and ``postgresql+psycopg://`` all use psycopg 3).
        busy_timeout_s: How long a SQLite writer waits for another one before giving up.
        actor: Who signs the ``store.migrate`` audit event if a migration runs.

    Returns:
        A ready store whose schema is at the newest revision.

    Raises:
        StoreError: the URL is unsupported or malformed, the driver is missing, the
            database is unreachable, or its schema is newer than this conveyor.
        StoreBusyError: SQLite stayed locked past ``busy_timeout_s`` while migrating.

    Example:
        >>> with open_store("sqlite:////tmp/demo/conveyor.db") as store:  # doctest: +SKIP
        ...     print(store.verify_audit().ok)
        True
    """
    parsed = normalise_url(url)
    shown = mask_url(url)
    engine = build_engine(parsed, busy_timeout_s=busy_timeout_s)
    store = MetadataStore(engine, url=shown)
    try:
        with store._translate_errors():
            upgrade_to_head(engine, actor=(actor or SYSTEM_ACTOR).name, shown_url=shown)
    except StoreDisconnectedError as exc:
        engine.dispose()
        cause = exc.__cause__
        detail = first_line(cause.orig) if isinstance(cause, DBAPIError) else exc.message
        raise StoreError(
            f"Cannot connect to the metadata store {shown!r}: {detail}",
            hint="Check that the database server is running and reachable, and that the "
            "URL's host, port, user, password and database name are right.",
            url=shown,
        ) from exc
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(
            f"Cannot connect to the metadata store {shown!r}: {first_line(exc.orig)}",
            hint="Check that the database server is running and reachable, and that the "
            "URL's host, port, user, password and database name are right.",
            url=shown,
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return store
